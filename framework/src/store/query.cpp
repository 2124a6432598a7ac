#include "trex/store/query.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "trex/store/store.h"
#include "trex/registry/diagnostics.h"

namespace trex::query {
namespace {

struct ColumnDef {
  const char* name;
  const char* sql;
};
// `status` reads a running run that cannot be running (stale heartbeat, or its
// pid gone on this host) as interrupted: the store's trex_run_gone(), the same
// test Store::run and `trex show` apply.
constexpr ColumnDef kColumns[] = {
    {"id", "r.id"},
    {"name", "r.name"},
    {"experiment", "r.experiment"},
    {"status", "(CASE WHEN r.status='running' AND trex_run_gone(r.heartbeat, r.host, r.pid) THEN 'interrupted' ELSE r.status END)"},
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

std::vector<std::string> field_prefixes() {
  std::vector<std::string> out{"params"};
  for (const char* s : kSummaries) out.push_back(s);
  for (const auto& c : kColumns) out.push_back(c.name);
  return out;
}

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
    if (!plain)
      throw Error(expr, pos, "'" + text + "': a metric is <split>_<name>, e.g. " + head + ".val_accuracy");
    return Field{Field::Kind::Summary, rest, head};
  }
  std::string hint = did_you_mean(head, field_prefixes());
  throw Error(expr, pos,
              "unknown field '" + text + "'" + hint +
                  " (fields: run columns such as status or name, params.<key>, best|last|min|max.<metric>)");
}

// --- tokens ------------------------------------------------------------------
enum class Tok { Word, Number, String, Op, LParen, RParen, Comma, End };
struct Token {
  Tok kind;
  std::string text;
  std::size_t pos;
};

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    if (c == '(') out.push_back({Tok::LParen, "(", i++});
    else if (c == ')') out.push_back({Tok::RParen, ")", i++});
    else if (c == ',') out.push_back({Tok::Comma, ",", i++});
    else if (c == '\'' || c == '"') {
      std::string v;
      ++i;
      for (;;) {
        if (i >= s.size()) throw Error(s, start, "unterminated string; close it with " + std::string(1, c));
        if (s[i] == c) {
          if (i + 1 < s.size() && s[i + 1] == c) v += c, i += 2;  // doubled quote
          else break;
        } else {
          v += s[i++];
        }
      }
      ++i;
      out.push_back({Tok::String, v, start});
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && i + 1 < s.size() &&
                (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
      ++i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                              ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
        ++i;
      out.push_back({Tok::Number, s.substr(start, i - start), start});
    } else if (word_start(c)) {
      while (i < s.size() && word_char(s[i])) ++i;
      out.push_back({Tok::Word, s.substr(start, i - start), start});
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      std::string op(1, c);
      ++i;
      if (i < s.size() && (s[i] == '=' || (c == '<' && s[i] == '>'))) op += s[i++];
      if (op == "!") throw Error(s, start, "'!' alone is not an operator; use != or not");
      if (op == "==") op = "=";
      if (op == "<>") op = "!=";
      out.push_back({Tok::Op, op, start});
    } else {
      throw Error(s, start, std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({Tok::End, "", s.size()});
  return out;
}

// --- parser, emitting SQL as it goes ---------------------------------------------
class Parser {
 public:
  Parser(const std::string& expr, Match match) : expr_(expr), toks_(tokenize(expr)), match_(match) {}

  Sql parse() {
    Sql out = parse_or();
    if (peek().kind != Tok::End) throw error(peek(), "expected 'and', 'or' or the end, found '" + peek().text + "'");
    return out;
  }

 private:
  const Token& peek() const { return toks_[at_]; }
  Token next() { return toks_[at_++]; }
  bool keyword(const char* k) const { return peek().kind == Tok::Word && lower(peek().text) == k; }
  Error error(const Token& t, const std::string& msg) const { return Error(expr_, t.pos, msg); }

  Sql parse_or() {
    Sql left = parse_and();
    while (keyword("or")) {
      next();
      Sql right = parse_and();
      left = join(left, " OR ", right);
    }
    return left;
  }
  Sql parse_and() {
    Sql left = parse_not();
    while (keyword("and")) {
      next();
      Sql right = parse_not();
      left = join(left, " AND ", right);
    }
    return left;
  }
  /// Counts one level of nesting while alive; past kMaxNesting, an error at `t`.
  class Nested {
   public:
    Nested(Parser& p, const Token& t) : p_(p) {
      if (++p_.depth_ > kMaxNesting)
        throw p_.error(t, "the filter nests deeper than " + std::to_string(kMaxNesting) +
                              " levels of parentheses and 'not'; write it flatter");
    }
    ~Nested() { --p_.depth_; }

   private:
    Parser& p_;
  };

  Sql parse_not() {
    if (keyword("not")) {
      Nested level(*this, next());
      Sql inner = parse_not();
      inner.text = "NOT " + inner.text;
      return inner;
    }
    return parse_primary();
  }
  Sql parse_primary() {
    if (peek().kind == Tok::LParen) {
      Nested level(*this, next());
      Sql inner = parse_or();
      if (peek().kind != Tok::RParen) throw error(peek(), "expected ')' to close the '(' here");
      next();
      inner.text = "(" + inner.text + ")";
      return inner;
    }
    return parse_comparison();
  }

  sql::Cell value() {
    const Token t = next();
    switch (t.kind) {
      case Tok::Number: {
        const bool integral = t.text.find_first_of(".eE") == std::string::npos;
        try {
          std::size_t used = 0;
          if (integral) {
            const long long v = std::stoll(t.text, &used);
            if (used == t.text.size()) return std::int64_t{v};
          } else {
            const double v = std::stod(t.text, &used);
            if (used == t.text.size()) return v;
          }
        } catch (const std::exception&) {
        }
        throw error(t, "'" + t.text + "' is not a number");
      }
      case Tok::String: return t.text;
      case Tok::Word: {
        const std::string k = lower(t.text);
        if (k == "true") return std::int64_t{1};
        if (k == "false") return std::int64_t{0};
        if (k == "and" || k == "or" || k == "not" || k == "in" || k == "like")
          throw error(t, "expected a value, found the keyword '" + t.text + "'");
        return t.text;  // a bare word is a string: status = completed
      }
      default: throw error(t, t.kind == Tok::End ? "expected a value at the end" : "expected a value, found '" + t.text + "'");
    }
  }

  Sql parse_comparison() {
    const Token ft = next();
    if (ft.kind != Tok::Word)
      throw error(ft, ft.kind == Tok::End ? "expected a field at the end, e.g. best.val_accuracy > 0.9"
                                          : "expected a field, found '" + ft.text + "'");
    if (++comparisons_ > kMaxComparisons)
      throw error(ft, "more than " + std::to_string(kMaxComparisons) + " comparisons in one filter; use 'in (...)' for lists");
    const Field f = parse_field_at(ft.text, expr_, ft.pos);
    bool negate = false;
    if (keyword("not")) next(), negate = true;
    if (keyword("in")) {
      next();
      if (peek().kind != Tok::LParen) throw error(peek(), "expected '(' after 'in'");
      next();
      std::vector<sql::Cell> values{value()};
      while (peek().kind == Tok::Comma) {
        if (values.size() >= kMaxInValues)
          throw error(peek(), "an 'in' list holds at most " + std::to_string(kMaxInValues) + " values");
        next(), values.push_back(value());
      }
      if (peek().kind != Tok::RParen) throw error(peek(), "expected ',' or ')' in the 'in' list");
      next();
      std::string marks;
      for (std::size_t i = 0; i < values.size(); ++i) marks += i ? ",?" : "?";
      return condition(f, std::string(negate ? "NOT IN" : "IN") + " (" + marks + ")", values);
    }
    if (keyword("like")) {
      next();
      const Token vt = peek();
      sql::Cell v = value();
      if (!std::holds_alternative<std::string>(v)) throw error(vt, "'like' takes a quoted pattern, e.g. name like 'cifar%'");
      return condition(f, negate ? "NOT LIKE ?" : "LIKE ?", {v});
    }
    if (negate) throw error(peek(), "'not' here must be followed by 'in' or 'like'");
    if (keyword("is")) {
      next();
      bool is_not = false;
      if (keyword("not")) next(), is_not = true;
      if (!keyword("null")) throw error(peek(), "expected 'null' after 'is'");
      next();
      return null_check(f, is_not);
    }
    const Token op = next();
    if (op.kind != Tok::Op)
      throw error(op, op.kind == Tok::End ? "expected an operator (= != < <= > >= in like) after '" + ft.text + "'"
                                          : "expected an operator (= != < <= > >= in like), found '" + op.text + "'");
    if (keyword("null")) {
      next();
      if (op.text != "=" && op.text != "!=") throw error(op, "null compares only with = or !=");
      return null_check(f, op.text == "!=");
    }
    return condition(f, op.text + " ?", {value()});
  }

  static Sql join(const Sql& a, const std::string& op, const Sql& b) {
    Sql out{a.text + op + b.text, a.binds};
    out.binds.insert(out.binds.end(), b.binds.begin(), b.binds.end());
    return out;
  }

  // Match::Set collects the matching runs from the (key, value) index, so a
  // filter never scans every run; Match::PerRow checks one run by primary
  // key, for when the rows come in the order of a sort index instead.
  Sql condition(const Field& f, const std::string& test, const std::vector<sql::Cell>& values) const {
    Sql out;
    const std::string table = f.kind == Field::Kind::Param ? "params" : "summaries";
    const std::string column = f.kind == Field::Kind::Param ? "value" : f.summary;
    if (f.kind == Field::Kind::Column) {
      out = field_value(f);
      out.text += " " + test;
    } else if (match_ == Match::Set) {
      out.text = "r.id IN (SELECT run_id FROM " + table + " WHERE key = ? AND " + column + " " + test + ")";
      out.binds = {f.name};
    } else {
      out.text = "EXISTS (SELECT 1 FROM " + table + " WHERE run_id = r.id AND key = ? AND " + column + " " + test + ")";
      out.binds = {f.name};
    }
    out.binds.insert(out.binds.end(), values.begin(), values.end());
    return out;
  }
  static Sql null_check(const Field& f, bool is_not) {
    Sql out = field_value(f);
    out.text += is_not ? " IS NOT NULL" : " IS NULL";
    return out;
  }

  std::string expr_;
  std::vector<Token> toks_;
  Match match_;
  std::size_t at_ = 0;
  int depth_ = 0, comparisons_ = 0;
};

}  // namespace

Error::Error(const std::string& expr, std::size_t position, const std::string& message)
    : std::runtime_error(message + " (at column " + std::to_string(position + 1) + ")\n  " + expr + "\n  " +
                         std::string(std::min(position, expr.size()), ' ') + "^"),
      position_(position) {}

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

Sql compile_where(const std::string& expr, Match match) {
  if (std::all_of(expr.begin(), expr.end(), [](unsigned char c) { return std::isspace(c); })) return {"1", {}};
  return Parser(expr, match).parse();
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
  plan.counted = Sql{"SELECT count(*) FROM runs r JOIN " + table + " k0 ON k0.run_id = r.id AND k0.key = ? WHERE ", {f.name}};
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
