#include "trex/store/query.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "trex/store/store.h"
#include "trex/registry/diagnostics.h"
#include "query_grammar.h"

namespace trex::query {
namespace {

using detail::ColumnDef;
// `status` reads a running run that cannot be running (stale heartbeat, or its
// pid gone on this host) as interrupted: the store's trex_run_gone(), the same
// test Store::run and `trex show` apply.
constexpr ColumnDef kColumns[] = {
    {"id", "r.id"},
    {"name", "r.name"},
    {"experiment", "r.experiment"},
    {"status",
     "(CASE WHEN r.status='running' AND trex_run_gone(r.heartbeat, r.host, r.pid) THEN 'interrupted' ELSE r.status "
     "END)"},
    {"error", "r.error"},
    {"host", "r.host"},
    {"pid", "r.pid"},
    {"seed", "r.seed"},
    {"sweep", "r.sweep_id"},
    {"trial", "r.trial"},
    {"start_time", "r.start_time"},
    {"end_time", "r.end_time"},
    {"duration", "(COALESCE(r.end_time, r.heartbeat) - r.start_time)"},
    {"main_metric", "r.main_metric"},
    // best / last value of each run's own main metric (what `trex runs` shows by default)
    {"main_best", "(SELECT best FROM summaries WHERE run_id = r.id AND key = COALESCE(r.main_metric, 'val_accuracy'))"},
    {"main_last", "(SELECT last FROM summaries WHERE run_id = r.id AND key = COALESCE(r.main_metric, 'val_accuracy'))"},
};
constexpr const char* kSummaries[] = {"best", "last", "min", "max", "best_epoch"};

}  // namespace

namespace detail {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool word_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
}

const ColumnDef* find_column(const std::string& name) {
  for (const auto& c : kColumns)
    if (name == c.name) return &c;
  return nullptr;
}

namespace {
std::vector<std::string> field_prefixes() {
  std::vector<std::string> out{"params"};
  for (const char* s : kSummaries) out.push_back(s);
  for (const auto& c : kColumns) out.push_back(c.name);
  return out;
}
}  // namespace

Field parse_field_at(const std::string& text, const std::string& expr, std::size_t pos) {
  const auto dot = text.find('.');
  const std::string head = text.substr(0, dot);
  const std::string rest = dot == std::string::npos ? "" : text.substr(dot + 1);
  Field f;
  if (dot == std::string::npos) {
    if (find_column(head)) return Field{Field::Kind::Column, head, ""};
  } else if (head == "params") {
    if (rest.empty()) throw Error(expr, pos, "'params.' needs a key, e.g. params.train.optimizer.lr");
    return Field{Field::Kind::Param, rest, ""};
  } else if (std::find_if(std::begin(kSummaries), std::end(kSummaries), [&](const char* s) { return head == s; }) !=
             std::end(kSummaries)) {
    const bool plain = !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!plain) throw Error(expr, pos, "'" + text + "': a metric is <split>_<name>, e.g. " + head + ".val_accuracy");
    return Field{Field::Kind::Summary, rest, head};
  }
  std::string hint = did_you_mean(head, field_prefixes());
  throw Error(expr, pos,
              "unknown field '" + text + "'" + hint +
                  " (fields: run columns such as status or name, params.<key>, best|last|min|max.<metric>)");
}

}  // namespace detail

using detail::find_column;
using detail::lower;
using detail::parse_field_at;
using detail::word_char;
using detail::word_start;

std::string Field::label() const {
  if (kind == Kind::Param) return "params." + name;
  if (kind == Kind::Summary) return summary + "." + name;
  return name;
}

Field parse_field(const std::string& text) {
  for (char c : text)
    if (!word_char(c)) throw Error(text, text.find(c), std::string("unexpected character '") + c + "' in a field name");
  if (text.empty() || !word_start(text[0])) throw Error(text, 0, "a field name starts with a letter");
  return parse_field_at(text, text, 0);
}

Sql field_value(const Field& f) {
  if (f.kind == Field::Kind::Param) return {"(SELECT value FROM params WHERE run_id = r.id AND key = ?)", {f.name}};
  if (f.kind == Field::Kind::Summary)
    return {"(SELECT " + f.summary + " FROM summaries WHERE run_id = r.id AND key = ?)", {f.name}};
  const ColumnDef* c = find_column(f.name);
  if (!c) throw Error(f.name, 0, "unknown column '" + f.name + "'");
  return {c->sql, {}};
}

std::vector<SortKey> parse_sort(const std::string& text) {
  std::vector<SortKey> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) {
      if (out.size() >= kMaxFields)
        throw Error(text, start, "at most " + std::to_string(kMaxFields) + " fields in one list");
      SortKey k;
      if (part[0] == '-' || part[0] == '+') k.descending = part[0] == '-', part = part.substr(1);
      k.field = parse_field(part);
      out.push_back(k);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

void append(Sql& to, const Sql& s) {
  to.text += s.text;
  to.binds.insert(to.binds.end(), s.binds.begin(), s.binds.end());
}

Sql select_list(const RunQuery& q) {
  Sql out{"SELECT ", {}};
  if (q.select.empty()) out.text += "r.id";
  for (std::size_t i = 0; i < q.select.size(); ++i) {
    if (i) out.text += ", ";
    append(out, field_value(q.select[i]));
  }
  return out;
}

// ORDER BY for the given keys (NULLs last), then the listing order.
Sql order_by(const std::vector<SortKey>& keys, std::size_t from) {
  Sql out{" ORDER BY ", {}};
  for (std::size_t i = from; i < keys.size(); ++i) {
    Sql v = field_value(keys[i].field);
    append(out, v);
    out.text += " IS NULL, ";
    append(out, v);
    out.text += keys[i].descending ? " DESC, " : " ASC, ";
  }
  out.text += "r.start_time, r.id";
  return out;
}

void limit(Sql& s, std::int64_t limit, std::int64_t offset) {
  s.text += " LIMIT ? OFFSET ?";
  s.binds.push_back(limit);
  s.binds.push_back(offset);
}

}  // namespace

QueryPlan compile(const RunQuery& q) {
  QueryPlan plan;
  const auto keys = parse_sort(q.sort);
  const bool indexed = !keys.empty() && keys[0].field.kind != Field::Kind::Column;
  if (!indexed) {
    Sql s = select_list(q);
    s.text += " FROM runs r WHERE ";
    append(s, compile_where(q.where, Match::Set));
    append(s, order_by(keys, 0));
    limit(s, q.limit, q.offset);
    plan.parts.push_back(s);
    return plan;
  }
  // The first sort key is a param or a summary: join it and walk its (key,
  // value) index in order, checking the filter per run, so `--limit 20`
  // touches about 20 runs' rows. Runs without that key follow, as NULLs.
  const Field& f = keys[0].field;
  const std::string table = f.kind == Field::Kind::Param ? "params" : "summaries";
  const std::string column = "k0." + (f.kind == Field::Kind::Param ? std::string("value") : f.summary);
  const Sql where = compile_where(q.where, Match::PerRow);
  Sql with = select_list(q);
  with.text += " FROM runs r JOIN " + table + " k0 ON k0.run_id = r.id AND k0.key = ? WHERE ";
  with.binds.push_back(f.name);
  append(with, where);
  with.text += " ORDER BY " + column + (keys[0].descending ? " DESC" : " ASC");
  Sql rest = order_by(keys, 1);
  with.text += ", " + rest.text.substr(std::string(" ORDER BY ").size());
  with.binds.insert(with.binds.end(), rest.binds.begin(), rest.binds.end());
  plan.counted =
      Sql{"SELECT count(*) FROM runs r JOIN " + table + " k0 ON k0.run_id = r.id AND k0.key = ? WHERE ", {f.name}};
  append(plan.counted, where);
  Sql without = select_list(q);
  without.text += " FROM runs r WHERE NOT EXISTS (SELECT 1 FROM " + table + " WHERE run_id = r.id AND key = ?) AND ";
  without.binds.push_back(f.name);
  append(without, where);
  append(without, order_by(keys, 1));
  plan.parts = {with, without};
  return plan;
}

void run_query(const sql::Database& db, const RunQuery& q, const std::function<void(sql::Statement&)>& row) {
  const QueryPlan plan = compile(q);
  std::int64_t limit_left = q.limit, offset = q.offset;
  for (std::size_t i = 0; i < plan.parts.size(); ++i) {
    Sql part = plan.parts[i];
    if (plan.parts.size() > 1) limit(part, limit_left, offset);  // single part: already limited
    auto s = db.prepare(part.text);
    s.bind_cells(part.binds);
    std::int64_t n = 0;
    while (s.step()) row(s), ++n;
    if (limit_left >= 0) {
      limit_left -= n;
      if (limit_left <= 0) return;
    }
    if (i + 1 < plan.parts.size() && offset > 0) {  // the next part skips what this one could not
      auto c = db.prepare(plan.counted.text);
      c.bind_cells(plan.counted.binds);
      c.step();
      offset = std::max<std::int64_t>(0, offset - c.integer(0));
    }
  }
}

Sql compile_count(const std::string& where) {
  Sql w = compile_where(where, Match::Set);
  return {"SELECT count(*) FROM runs r WHERE " + w.text, w.binds};
}

std::int64_t count_runs(const sql::Database& db, const std::string& where) {
  const Sql q = compile_count(where);
  auto s = db.prepare(q.text);
  s.bind_cells(q.binds);
  s.step();
  return s.integer(0);
}

}  // namespace trex::query
