// Drives the dashboard in headless Chromium (Debian's) with playwright-core:
//   node dashboard.cjs URL SCREENSHOT_DIR EXPECTED_JSON
// EXPECTED_JSON: {where, count, compare: [id, id], diff: {key: [v, v]}, run: id}
// Exits non-zero, naming the failed check, when the page disagrees.
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

const [url, shots, expectedFile] = process.argv.slice(2);
const expected = JSON.parse(fs.readFileSync(expectedFile, "utf8"));

function check(ok, what) {
  if (!ok) throw new Error("dashboard check failed: " + what);
  console.log("ok: " + what);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#runs tbody tr");
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, "runs.png"), fullPage: true });

    // A filter: the table's total equals the same filter's SQL count.
    await page.fill("#f-where", expected.where);
    await page.click("#apply");
    await page.waitForFunction((n) => document.getElementById("count").dataset.total === String(n), expected.count,
                               { timeout: 10000 }).catch(() => {});
    const total = await page.$eval("#count", (e) => Number(e.dataset.total));
    const rows = await page.$$eval("#runs tbody tr", (r) => r.length);
    check(total === expected.count, `filter total ${total} == SQL count ${expected.count}`);
    check(rows === Math.min(expected.count, 50), `rows shown ${rows} == min(count, page size)`);
    await page.screenshot({ path: path.join(shots, "runs_filtered.png"), fullPage: true });

    // Select two runs and compare them.
    await page.fill("#f-where", "");
    await page.click("#apply");
    for (const id of expected.compare) {
      await page.waitForSelector(`input[data-run='${id}']`);
      await page.check(`input[data-run='${id}']`);
    }
    await page.click("#compare");
    await page.waitForSelector("#compare-charts .chart");
    const seriesCounts = await page.evaluate(() =>
      window.trexCharts.filter((c) => c.root.closest("#compare-charts")).map((c) => c.series.length - 1));
    check(seriesCounts.length > 0 && seriesCounts.every((n) => n === 2), `every comparison chart has 2 series (${seriesCounts})`);
    const diff = await page.$$eval("#diff tr[data-key]", (rows) =>
      Object.fromEntries(rows.map((r) => [r.dataset.key, [...r.querySelectorAll("td")].slice(1).map((td) => td.textContent)])));
    check(JSON.stringify(diff) === JSON.stringify(expected.diff), `differing parameters ${JSON.stringify(diff)}`);
    await page.screenshot({ path: path.join(shots, "compare.png"), fullPage: true });

    // A run page: status, per-epoch table and curves.
    await page.goto(url + "#run/" + expected.run);
    await page.waitForSelector("#run-epochs tr:nth-child(2)");
    const status = await page.$eval("#run-status", (e) => e.textContent);
    check(status.startsWith("completed"), `run page shows the status (${status})`);
    await page.screenshot({ path: path.join(shots, "run.png"), fullPage: true });
    check(errors.length === 0, `no page errors (${errors.join("; ")})`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
