#include "trex/sweep/sweep_config.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "trex/registry/diagnostics.h"

namespace trex {

double SearchParam::internal_low() const {
  switch (kind) {
    case Kind::Choice: return 0;
    case Kind::LogUniform: return std::log(low);
    case Kind::IntUniform: return low - 0.5;  // each integer owns an equal slice
    default: return low;
  }
}

double SearchParam::internal_high() const {
  switch (kind) {
    case Kind::Choice: return static_cast<double>(choices.size()) - 1;
    case Kind::LogUniform: return std::log(high);
    case Kind::IntUniform: return high + 0.5;
    default: return high;
  }
}

double SearchParam::to_value(double x) const {
  switch (kind) {
    case Kind::Choice: return std::round(x);
    case Kind::LogUniform: return std::min(high, std::max(low, std::exp(x)));
    case Kind::IntUniform: return std::min(high, std::max(low, std::round(x)));
    default: return std::min(high, std::max(low, x));
  }
}

std::string SearchParam::to_text(double x) const {
  const double v = to_value(x);
  if (kind == Kind::Choice) return choices.at(static_cast<std::size_t>(v));
  if (kind == Kind::IntUniform) return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);  // shortest text that reads back to the same double
}

std::int64_t SweepConfig::configurations() const {
  if (method != "grid") return trials;
  std::int64_t n = 1;
  for (const auto& p : params) n *= static_cast<std::int64_t>(p.choices.size());
  return n;
}

namespace {

const std::vector<std::string> kSweepKeys{"method", "trials",   "seed",  "parameters", "objective",
                                          "pruner", "parallel", "seeds", "tpe"};
const std::vector<std::string> kDistributions{"choice", "uniform", "log_uniform", "int_uniform"};

struct Reader {
  Diagnostics& diag;
  std::string file;

  void error(const Node& at, const std::string& path, const std::string& message) {
    Origin o = at.origin();
    if (o.file.empty()) o.file = file;
    diag.add(o, path, message);
  }
  std::int64_t integer(const Node& n, const std::string& path, std::int64_t min) {
    auto v = n.is_scalar() ? n.as_int() : std::nullopt;
    if (!v || *v < min) {
      error(n, path, fmt::format("expected an integer >= {}", min));
      return min;
    }
    return *v;
  }
  std::string one_of(const Node& n, const std::string& path, const std::vector<std::string>& allowed) {
    const std::string v = n.is_scalar() ? n.text() : "";
    for (const auto& a : allowed)
      if (v == a) return v;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    error(n, path, "expected one of " + list + ", not '" + v + "'" + did_you_mean(v, allowed));
    return "";
  }
};

SearchParam read_param(Reader& r, const std::string& key, const Node& n, const std::string& path) {
  SearchParam p;
  p.key = key;
  if (!n.is_map() || n.entries().size() != 1) {
    r.error(n, path,
            "a searched parameter is one of {choice: [a, b]}, {uniform: [lo, hi]}, "
            "{log_uniform: [lo, hi]}, {int_uniform: [lo, hi]}");
    return p;
  }
  const auto& [kind, arg] = n.entries().front();
  const std::string apath = path + "." + kind;
  const std::string k = r.one_of(Node::scalar(kind, false, n.origin()), path, kDistributions);
  if (!arg.is_sequence() || arg.items().empty()) {
    r.error(arg, apath, "expected a list");
    return p;
  }
  if (k == "choice") {
    p.kind = SearchParam::Kind::Choice;
    for (const auto& item : arg.items()) {
      if (!item.is_scalar())
        r.error(item, apath, "choices are scalars (numbers, strings, booleans)");
      else
        p.choices.push_back(yaml_scalar(item));  // --set text that reads back as this value
    }
    return p;
  }
  p.kind = k == "uniform"       ? SearchParam::Kind::Uniform
           : k == "log_uniform" ? SearchParam::Kind::LogUniform
                                : SearchParam::Kind::IntUniform;
  const auto lo = arg.items().size() == 2 ? arg.items()[0].as_float() : std::nullopt;
  const auto hi = arg.items().size() == 2 ? arg.items()[1].as_float() : std::nullopt;
  if (!lo || !hi || !(*lo < *hi)) {
    r.error(arg, apath, "expected [low, high] with low < high");
    return p;
  }
  p.low = *lo, p.high = *hi;
  if (p.kind == SearchParam::Kind::LogUniform && p.low <= 0) r.error(arg, apath, "log_uniform needs low > 0");
  if (p.kind == SearchParam::Kind::IntUniform && (p.low != std::floor(p.low) || p.high != std::floor(p.high)))
    r.error(arg, apath, "int_uniform bounds are integers");
  return p;
}

void read_objective(Reader& r, const Node& value, const std::string& path, SweepObjective& o) {
  if (!value.is_map()) return r.error(value, path, "expected {metric: val_accuracy, mode: max, summary: best}");
  for (const auto& [ok, ov] : value.entries()) {
    const std::string opath = path + "." + ok;
    if (ok == "metric")
      o.metric = ov.text();
    else if (ok == "mode")
      o.maximize = r.one_of(ov, opath, {"max", "min"}) == "max";
    else if (ok == "summary")
      o.summary = r.one_of(ov, opath, {"best", "last"});
    else
      r.error(ov, opath, "unknown key" + did_you_mean(ok, {"metric", "mode", "summary"}));
  }
  if (o.metric.find('_') == std::string::npos)
    r.error(value, path + ".metric", "a metric is <split>_<name>, e.g. val_accuracy or val_loss");
}

void read_pruner(Reader& r, const Node& value, const std::string& path, PrunerConfig& p) {
  if (!value.is_map()) return r.error(value, path, "expected {method: median | asha, warmup_epochs: 2}");
  for (const auto& [pk, pv] : value.entries()) {
    const std::string ppath = path + "." + pk;
    if (pk == "method")
      p.method = r.one_of(pv, ppath, {"none", "median", "asha"});
    else if (pk == "warmup_epochs")
      p.warmup_epochs = r.integer(pv, ppath, 0);
    else if (pk == "startup_trials")
      p.startup_trials = r.integer(pv, ppath, 1);
    else if (pk == "min_epochs")
      p.min_epochs = r.integer(pv, ppath, 1);
    else if (pk == "reduction_factor")
      p.reduction_factor = r.integer(pv, ppath, 2);
    else
      r.error(pv, ppath,
              "unknown key" +
                  did_you_mean(pk, {"method", "warmup_epochs", "startup_trials", "min_epochs", "reduction_factor"}));
  }
}

void read_tpe(Reader& r, const Node& value, const std::string& path, SweepConfig& c) {
  if (!value.is_map()) return r.error(value, path, "expected {startup_trials: 10, candidates: 24}");
  for (const auto& [tk, tv] : value.entries()) {
    if (tk == "startup_trials")
      c.tpe_startup_trials = r.integer(tv, path + "." + tk, 1);
    else if (tk == "candidates")
      c.tpe_candidates = r.integer(tv, path + "." + tk, 1);
    else
      r.error(tv, path + "." + tk, "unknown key" + did_you_mean(tk, {"startup_trials", "candidates"}));
  }
}

void read_key(Reader& r, const std::string& key, const Node& value, SweepConfig& c) {
  const std::string path = "sweep." + key;
  if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end()) {
    r.error(value, path, "unknown key" + did_you_mean(key, kSweepKeys));
  } else if (key == "method") {
    if (auto m = r.one_of(value, path, {"grid", "random", "tpe"}); !m.empty()) c.method = m;
  } else if (key == "trials") {
    c.trials = r.integer(value, path, 1);
  } else if (key == "seed") {
    c.seed = static_cast<std::uint64_t>(r.integer(value, path, 0));
  } else if (key == "parallel") {
    c.parallel = r.integer(value, path, 1);
  } else if (key == "seeds") {
    if (!value.is_sequence() || value.items().empty()) return r.error(value, path, "expected a list of integer seeds");
    for (const auto& s : value.items()) c.seeds.push_back(r.integer(s, path, 0));
  } else if (key == "parameters") {
    if (!value.is_map() || value.entries().empty())
      return r.error(value, path, "expected a map of dotted spec keys to distributions");
    for (const auto& [pk, pv] : value.entries()) c.params.push_back(read_param(r, pk, pv, path + "." + pk));
  } else if (key == "objective") {
    read_objective(r, value, path, c.objective);
  } else if (key == "pruner") {
    read_pruner(r, value, path, c.pruner);
  } else if (key == "tpe") {
    read_tpe(r, value, path, c);
  }
}

}  // namespace

SweepConfig parse_sweep(const Node& sweep, const std::string& file) {
  Diagnostics diag;
  Reader r{diag, file};
  SweepConfig c;
  if (!sweep.is_map()) {
    r.error(sweep, "sweep", "expected a map with method, parameters, objective, ...");
    diag.throw_if_any();
  }
  for (const auto& [key, value] : sweep.entries()) read_key(r, key, value, c);
  if (c.params.empty() && diag.empty()) r.error(sweep, "sweep.parameters", "a sweep needs at least one parameter");
  if (c.method == "grid")
    for (const auto& p : c.params)
      if (p.kind != SearchParam::Kind::Choice)
        r.error(sweep, "sweep.parameters." + p.key, "grid search takes {choice: [...]} lists only");
  diag.throw_if_any();
  return c;
}

}  // namespace trex
