// Builds a large experiment store for the query benchmark: RUNS runs x EPOCHS
// epochs x 4 metrics (train/val loss and accuracy), with typed params and
// summaries, through trex's own schema. Rows go in with bulk prepared inserts
// (one transaction per 1,000 runs), not record_epoch, to build it in minutes.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "trex/store/store.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_query_store STORE [RUNS=100000] [EPOCHS=50]\n");
    return 2;
  }
  const std::string path = argv[1];
  const long runs = argc > 2 ? std::stol(argv[2]) : 100000;
  const long epochs = argc > 3 ? std::stol(argv[3]) : 50;
  trex::Store store(path);
  auto& db = store.db();
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  const char* models[] = {"seed_cnn", "vgg16", "resnet18", "resnet50"};
  const long batch_sizes[] = {32, 64, 128, 256};
  auto run_ins = db.prepare(
      "INSERT INTO runs(id, name, experiment, status, start_time, end_time, heartbeat, host, pid, seed, spec_yaml, "
      "spec_hash, "
      "main_metric) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  auto param_ins = db.prepare("INSERT INTO params(run_id, key, value, type) VALUES(?,?,?,?)");
  auto metric_ins =
      db.prepare("INSERT INTO metrics(run_id, epoch, split, name, value, wall_seconds) VALUES(?,?,?,?,?,?)");
  auto summary_ins = db.prepare(
      "INSERT INTO summaries(run_id, key, best, best_epoch, last, min, max, higher_is_better) VALUES(?,?,?,?,?,?,?,?)");
  for (long start = 0; start < runs; start += 1000) {
    db.transaction([&] {
      for (long i = start; i < std::min(runs, start + 1000); ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "bench%08ld", i);
        const double t0 = 1.7e9 + static_cast<double>(i) * 60;
        const std::string exp = std::string("bench_") + models[i % 4];
        run_ins.reset();
        run_ins
            .bind_all(std::string(id), exp, exp, std::string(u(rng) < 0.9 ? "completed" : "failed"), t0, t0 + 50,
                      t0 + 50, std::string("bench"), std::int64_t{1}, std::int64_t{i}, std::string("name: bench"),
                      std::string("h"), std::string("val_accuracy"))
            .run();
        const double lr = std::pow(10.0, -4 + 3 * u(rng));
        const std::vector<std::pair<std::string, trex::sql::Cell>> params = {
            {"train.optimizer.lr", lr},
            {"train.optimizer.weight_decay", std::pow(10.0, -6 + 3 * u(rng))},
            {"train.batch_size", std::int64_t{batch_sizes[rng() % 4]}},
            {"train.epochs", std::int64_t{epochs}},
            {"model.type", std::string(models[i % 4])},
            {"seed", std::int64_t{i}},
            {"augment.train.0.p", u(rng)},
            {"data.type", std::string("fashion_mnist")}};
        for (const auto& [key, value] : params) {
          param_ins.reset();
          const char* type = std::holds_alternative<double>(value)         ? "float"
                             : std::holds_alternative<std::int64_t>(value) ? "int"
                                                                           : "string";
          param_ins.bind(1, std::string(id)).bind(2, key).bind(3, value).bind(4, std::string(type)).run();
        }
        // Accuracy climbs towards a per-run ceiling; loss falls.
        const double ceiling = 0.5 + 0.45 * u(rng);
        for (const char* split : {"train", "val"}) {
          double best_acc = 0, best_loss = 1e9, acc = 0, loss = 0;
          long best_acc_epoch = 0, best_loss_epoch = 0;
          double min_acc = 1e9, max_acc = 0, min_loss = 1e9, max_loss = 0;
          for (long e = 1; e <= epochs; ++e) {
            acc = ceiling * (1 - std::exp(-0.2 * static_cast<double>(e))) + 0.01 * (u(rng) - 0.5);
            loss = 2.3 * std::exp(-0.1 * static_cast<double>(e)) + 0.05 * u(rng);
            for (const auto& [name, v] : {std::pair<const char*, double>{"accuracy", acc}, {"loss", loss}}) {
              metric_ins.reset();
              metric_ins.bind_all(std::string(id), std::int64_t{e}, std::string(split), std::string(name), v, 1.0)
                  .run();
            }
            if (acc > best_acc) best_acc = acc, best_acc_epoch = e;
            if (loss < best_loss) best_loss = loss, best_loss_epoch = e;
            min_acc = std::min(min_acc, acc), max_acc = std::max(max_acc, acc);
            min_loss = std::min(min_loss, loss), max_loss = std::max(max_loss, loss);
          }
          summary_ins.reset();
          summary_ins
              .bind_all(std::string(id), std::string(split) + "_accuracy", best_acc, std::int64_t{best_acc_epoch}, acc,
                        min_acc, max_acc, std::int64_t{1})
              .run();
          summary_ins.reset();
          summary_ins
              .bind_all(std::string(id), std::string(split) + "_loss", best_loss, std::int64_t{best_loss_epoch}, loss,
                        min_loss, max_loss, std::int64_t{0})
              .run();
        }
      }
    });
    if (start % 10000 == 0) std::fprintf(stderr, "\r%ld / %ld runs", start, runs);
  }
  db.exec("ANALYZE");
  std::fprintf(stderr, "\r%ld runs x %ld epochs x 4 metrics in %s\n", runs, epochs, path.c_str());
  return 0;
}
