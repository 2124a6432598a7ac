// The filter language of `trex runs --where` and the dashboard: a tokenizer and
// a recursive-descent parser (nesting capped) that emits bound SQL as it goes.
#include <algorithm>
#include <cctype>

#include "query_grammar.h"
#include "trex/store/query.h"

namespace trex::query {
namespace {

using detail::lower;
using detail::parse_field_at;
using detail::word_char;
using detail::word_start;

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
    if (c == '(')
      out.push_back({Tok::LParen, "(", i++});
    else if (c == ')')
      out.push_back({Tok::RParen, ")", i++});
    else if (c == ',')
      out.push_back({Tok::Comma, ",", i++});
    else if (c == '\'' || c == '"') {
      std::string v;
      ++i;
      for (;;) {
        if (i >= s.size()) throw Error(s, start, "unterminated string; close it with " + std::string(1, c));
        if (s[i] == c) {
          if (i + 1 < s.size() && s[i + 1] == c)
            v += c, i += 2;  // doubled quote
          else
            break;
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
        } catch (const std::exception&) {}
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
      default:
        throw error(t, t.kind == Tok::End ? "expected a value at the end" : "expected a value, found '" + t.text + "'");
    }
  }

  Sql parse_comparison() {
    const Token ft = next();
    if (ft.kind != Tok::Word)
      throw error(ft, ft.kind == Tok::End ? "expected a field at the end, e.g. best.val_accuracy > 0.9"
                                          : "expected a field, found '" + ft.text + "'");
    if (++comparisons_ > kMaxComparisons)
      throw error(
          ft, "more than " + std::to_string(kMaxComparisons) + " comparisons in one filter; use 'in (...)' for lists");
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
      if (!std::holds_alternative<std::string>(v))
        throw error(vt, "'like' takes a quoted pattern, e.g. name like 'cifar%'");
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

Sql compile_where(const std::string& expr, Match match) {
  if (std::all_of(expr.begin(), expr.end(), [](unsigned char c) { return std::isspace(c); })) return {"1", {}};
  return Parser(expr, match).parse();
}

}  // namespace trex::query
