#include "trex/ui/dashboard.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "trex/store/cell_json.h"
#include "trex/store/query.h"
#include "trex/store/run_diff.h"
#include "trex/store/store.h"
#include "trex/sweep/sweep_store.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace trex::ui {

const std::map<std::string, std::string_view>& embedded_files();  // generated from framework/ui

namespace {

constexpr std::int64_t kMaxPage = 1000;
const char* kDefaultColumns = "id,name,experiment,sweep,status,start_time,duration,main_metric,main_best,main_last";

struct HttpError : std::runtime_error {
  int status;
  HttpError(int s, const std::string& m) : std::runtime_error(m), status(s) {}
};

std::string arg(const std::map<std::string, std::string>& q, const std::string& key, const std::string& fallback = "") {
  auto it = q.find(key);
  return it == q.end() || it->second.empty() ? fallback : it->second;
}

std::int64_t int_arg(const std::map<std::string, std::string>& q, const std::string& key, std::int64_t fallback) {
  const std::string v = arg(q, key);
  if (v.empty()) return fallback;
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (const std::exception&) {}
  throw HttpError(400, "'" + key + "' must be a whole number >= 0, not '" + v + "'");
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string content_type(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".png") return "image/png";
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript";
  if (ext == ".css") return "text/css";
  if (ext == ".json") return "application/json";
  if (ext == ".csv") return "text/csv";
  return "text/plain; charset=utf-8";
}

class Api {
 public:
  explicit Api(const std::string& store_path) : store_(store_path, true) { store_.db().exec("PRAGMA query_only=ON"); }

  json runs(const std::map<std::string, std::string>& q) {
    query::RunQuery rq;
    rq.where = arg(q, "where");
    rq.sort = arg(q, "sort");
    rq.limit = std::min(int_arg(q, "limit", 50), kMaxPage);
    rq.offset = int_arg(q, "offset", 0);
    json columns = json::array();
    for (const auto& s : query::parse_sort(arg(q, "columns", kDefaultColumns))) {
      rq.select.push_back(s.field);
      columns.push_back(s.field.label());
    }
    json rows = json::array();
    query::run_query(store_.db(), rq, [&](sql::Statement& s) {
      json row = json::array();
      for (int i = 0; i < s.columns(); ++i) row.push_back(cell_json(s.column(i)));
      rows.push_back(row);
    });
    return {{"total", query::count_runs(store_.db(), rq.where)},
            {"limit", rq.limit},
            {"offset", rq.offset},
            {"columns", columns},
            {"rows", rows}};
  }

  json run(const std::string& id) {
    const RunRecord r = find(id);
    json params = json::object(), summaries = json::array(), artifacts = json::array();
    for (const auto& p : store_.params(r.id)) params[p.key] = p.value;
    for (const auto& s : store_.summaries(r.id))
      summaries.push_back({{"key", s.key},
                           {"best", s.best},
                           {"best_epoch", s.best_epoch},
                           {"last", s.last},
                           {"min", s.min},
                           {"max", s.max},
                           {"higher_is_better", s.higher_is_better}});
    for (const auto& a : store_.artifacts(r.id)) artifacts.push_back({{"kind", a.kind}, {"path", a.path}});
    json report = json::array();
    const fs::path meta = fs::path(store_.run_dir(r.id, false)) / "report" / "report.json";
    if (fs::exists(meta)) {
      const json j = json::parse(std::ifstream(meta), nullptr, false);
      if (j.is_object() && j.contains("images"))
        for (const auto& name : j["images"])
          if (name.is_string()) report.push_back(Store::run_relative(r.id, "report/" + name.get<std::string>()));
    }
    return {{"id", r.id},
            {"name", r.name},
            {"experiment", r.experiment},
            {"status", r.status},
            {"error", r.error},
            {"start_time", r.start_time},
            {"end_time", r.end_time},
            {"heartbeat", r.heartbeat},
            {"host", r.host},
            {"seed", r.seed},
            {"sweep", r.sweep_id},
            {"trial", r.trial},
            {"main_metric", r.main_metric},
            {"class_names", r.class_names},
            {"spec_yaml", r.spec_yaml},
            {"params", params},
            {"summaries", summaries},
            {"artifacts", artifacts},
            {"report", report}};
  }

  json metrics(const std::string& id) {
    const RunRecord r = find(id);
    json series = json::object(), lr = json::array();
    for (const auto& m : store_.metrics(r.id)) series[m.key()].push_back({m.epoch, m.value});
    for (const auto& [e, v] : store_.learning_rates(r.id)) lr.push_back({e, v});
    return {{"id", r.id}, {"series", series}, {"lr", lr}};
  }

  json compare(const std::string& ids_text) {
    std::vector<std::string> ids;
    for (const auto& id : split_list(ids_text)) ids.push_back(find(id).id);
    if (ids.empty()) throw HttpError(400, "'ids' lists the runs to compare: ids=RUN,RUN");
    json diffs = json::array();
    for (const auto& d : differing_params(store_, ids)) diffs.push_back({{"key", d.key}, {"values", d.values}});
    json metrics = json::object();
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (const auto& m : store_.metrics(ids[i])) {
        json& per_run = metrics[m.key()];
        if (per_run.is_null()) per_run = json::array();
        while (per_run.size() < ids.size()) per_run.push_back(json::array());
        per_run[i].push_back({m.epoch, m.value});
      }
    return {{"ids", ids}, {"labels", difference_labels(store_, ids)}, {"params", diffs}, {"metrics", metrics}};
  }

  json sweeps() {
    json out = json::array();
    for (const auto& s : list_sweeps(store_))
      out.push_back({{"id", s.id}, {"name", s.name}, {"method", s.method}, {"state", s.state}, {"created", s.created}});
    return out;
  }

  json sweep(const std::string& id) {
    auto s = find_sweep(store_, id);
    if (!s) throw HttpError(404, "no sweep '" + id + "'");
    const SweepConfig config = stored_sweep_config(*s);
    json trials = json::array();
    for (const auto& t : list_trials(store_, s->id)) {
      json params = json::object();
      for (const auto& [k, v] : t.values()) params[k] = v;
      trials.push_back({{"number", t.number},
                        {"config", t.config},
                        {"state", t.state},
                        {"run_id", t.run_id},
                        {"objective", t.objective ? json(*t.objective) : json(nullptr)},
                        {"params", params},
                        {"reason", t.reason}});
    }
    json keys = json::array();
    for (const auto& p : config.params) keys.push_back(p.key);
    return {{"id", s->id},
            {"name", s->name},
            {"method", s->method},
            {"state", s->state},
            {"parameters", keys},
            {"objective", {{"metric", config.objective.metric}, {"mode", config.objective.maximize ? "max" : "min"}}},
            {"trials", trials}};
  }

  json fields() {
    json params = json::array(), metrics = json::array(), experiments = json::array();
    auto p = store_.db().prepare("SELECT DISTINCT key FROM params ORDER BY key LIMIT 2000");
    while (p.step()) params.push_back(p.text(0));
    auto m = store_.db().prepare("SELECT DISTINCT key FROM summaries ORDER BY key");
    while (m.step()) metrics.push_back(m.text(0));
    auto e = store_.db().prepare("SELECT DISTINCT experiment FROM runs ORDER BY experiment");
    while (e.step()) experiments.push_back(e.text(0));
    return {{"params", params},
            {"metrics", metrics},
            {"experiments", experiments},
            {"statuses", {"running", "completed", "failed", "interrupted", "pruned"}}};
  }

  /// A file under the store's folder, never outside it, never the database itself.
  Response file(const std::string& relative) const {
    // Every filesystem question answered without throwing: a name too long or
    // a path that cannot be resolved is a file that is not there (404), not a 500.
    std::error_code ec;
    const fs::path root = fs::weakly_canonical(fs::absolute(store_.folder()), ec);
    const fs::path wanted = ec ? fs::path() : fs::weakly_canonical(root / fs::path(relative), ec);
    if (ec) throw HttpError(404, "no file '" + relative + "'");
    const auto mismatch = std::mismatch(root.begin(), root.end(), wanted.begin(), wanted.end());
    const std::string name = wanted.filename().string();
    if (relative.empty() || fs::path(relative).is_absolute() || mismatch.first != root.end() ||
        name.find(".db") != std::string::npos)
      throw HttpError(403, "only files inside the results folder can be read");
    if (!fs::is_regular_file(wanted, ec) || ec) throw HttpError(404, "no file '" + relative + "'");
    return {200, content_type(wanted), "", wanted.string()};
  }

 private:
  RunRecord find(const std::string& id) const {
    try {
      return store_.run(id);
    } catch (const std::exception& e) {
      throw HttpError(404, e.what());
    }
  }

  Store store_;
};

Response json_response(const json& j) { return {200, "application/json", json_text(j)}; }

}  // namespace

Dashboard::Dashboard(std::string store_path) : store_path_(std::move(store_path)) {}

Response Dashboard::handle(const std::string& method, const std::string& path,
                           const std::map<std::string, std::string>& query) const {
  try {
    if (method != "GET" && method != "HEAD") throw HttpError(405, "the dashboard only reads: use GET");
    const auto& assets = embedded_files();
    if (path == "/" || path == "/index.html")
      return {200, "text/html; charset=utf-8", std::string(assets.at("index.html"))};
    if (path.rfind("/assets/", 0) == 0) {
      auto it = assets.find(path.substr(8));
      if (it == assets.end()) throw HttpError(404, "no asset '" + path + "'");
      return {200, content_type(it->first), std::string(it->second)};
    }
    if (path.rfind("/files/", 0) == 0) return Api(store_path_).file(path.substr(7));
    if (path.rfind("/api/", 0) != 0) throw HttpError(404, "no page '" + path + "'");
    Api api(store_path_);
    std::vector<std::string> parts;
    for (const auto& p : fs::path(path.substr(5))) parts.push_back(p.string());
    if (parts.size() == 1 && parts[0] == "runs") return json_response(api.runs(query));
    if (parts.size() == 2 && parts[0] == "runs") return json_response(api.run(parts[1]));
    if (parts.size() == 3 && parts[0] == "runs" && parts[2] == "metrics") return json_response(api.metrics(parts[1]));
    if (parts.size() == 1 && parts[0] == "compare") return json_response(api.compare(arg(query, "ids")));
    if (parts.size() == 1 && parts[0] == "sweeps") return json_response(api.sweeps());
    if (parts.size() == 2 && parts[0] == "sweeps") return json_response(api.sweep(parts[1]));
    if (parts.size() == 1 && parts[0] == "fields") return json_response(api.fields());
    throw HttpError(404, "no API '" + path + "' (see framework/ui/README.md)");
  } catch (const HttpError& e) {
    return {e.status, "application/json", json_text(json{{"error", e.what()}})};
  } catch (const query::Error& e) {
    return {400, "application/json", json_text(json{{"error", e.what()}})};
  } catch (const std::exception& e) {
    return {500, "application/json", json_text(json{{"error", e.what()}})};
  }
}

bool allowed_host(const std::string& host_header, const std::string& bound_host, int port,
                  const std::vector<std::string>& extra) {
  if (bound_host == "0.0.0.0" || bound_host == "::") return true;
  std::string name = host_header;
  const std::string suffix = ":" + std::to_string(port);
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    name.resize(name.size() - suffix.size());
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<std::string> names{"127.0.0.1", "localhost", "[::1]", bound_host};
  names.insert(names.end(), extra.begin(), extra.end());
  return std::find(names.begin(), names.end(), name) != names.end();
}

namespace {

/// Streams a file in 64 KiB pieces: a large report image never sits whole in memory.
void stream_file(httplib::Response& res, const Response& r) {
  auto in = std::make_shared<std::ifstream>(r.file, std::ios::binary);
  std::error_code ec;
  const auto size = fs::file_size(r.file, ec);
  if (!*in || ec) {
    res.status = 404;
    res.set_content(json_text(json{{"error", "no file"}}), "application/json");
    return;
  }
  res.set_content_provider(static_cast<std::size_t>(size), r.content_type,
                           [in](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             char buf[1 << 16];
                             in->seekg(static_cast<std::streamoff>(offset));
                             in->read(buf, static_cast<std::streamsize>(std::min(length, sizeof buf)));
                             if (in->gcount() <= 0) return false;
                             sink.write(buf, static_cast<std::size_t>(in->gcount()));
                             return true;
                           });
}

}  // namespace

void Dashboard::serve(const std::string& host, int port, const std::function<bool()>& stop,
                      const std::vector<std::string>& allowed_hosts) const {
  httplib::Server server;
  auto route = [this, host, port, allowed_hosts](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    const std::string host_header = req.get_header_value("Host");
    if (!allowed_host(host_header, host, port, allowed_hosts)) {
      res.status = 403;
      res.set_content(json_text(json{{"error", "Host '" + host_header +
                                                   "' is not this dashboard's (DNS rebinding?); start trex ui "
                                                   "with --allow-host NAME to serve it under that name"}}),
                      "application/json");
      return;
    }
    std::map<std::string, std::string> query(req.params.begin(), req.params.end());
    const Response r = handle(req.method, req.path, query);
    res.status = r.status;
    if (!r.file.empty())
      stream_file(res, r);
    else
      res.set_content(r.body, r.content_type);
  };
  server.Get(".*", route);
  // Writes are answered (405), never served.
  server.Post(".*", route);
  server.Put(".*", route);
  server.Patch(".*", route);
  server.Delete(".*", route);
  if (!server.bind_to_port(host.c_str(), port))
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + " (in use? try --port)");
  std::thread watcher([&] {
    while (!stop()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    server.stop();
  });
  server.listen_after_bind();
  watcher.join();
}

}  // namespace trex::ui
