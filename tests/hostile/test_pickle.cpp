// The OrderedDict rewriter walks pickles from downloaded .pth files: every
// length is checked against the input, every opcode of protocols 0-5 is known,
// and anything else is refused by name, quickly.
#include <chrono>

#include <caffe2/serialize/inline_container.h>
#include <catch2/catch.hpp>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "../helpers.h"
#include "trex/model/ordered_dict_pickle.h"
#include "trex/model/pickle_check.h"
#include "trex/model/weights.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::string le(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

/// A torch.save-style zip whose data.pkl is `pickle`.
std::string archive_with(const std::string& pickle) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return out;
}

}  // namespace

TEST_CASE("a length of 2^64-9 is refused at once, not walked forever", "[hostile][pickle]") {
  const auto start = std::chrono::steady_clock::now();
  for (const unsigned char op : {0x8d, 0x8e, 0x96}) {  // BINUNICODE8, BINBYTES8, BYTEARRAY8
    const std::string p = std::string("\x80\x02", 2) + static_cast<char>(op) + le(~std::uint64_t{0} - 8, 8) + "abc.";
    CHECK_THROWS_WITH(pickle_without_ordered_dict(p),
                      Contains("claims 18446744073709551607 bytes but 4 remain") && Contains("at byte 2"));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("every argument-carrying opcode of protocols 2-5 is walked with its argument", "[hostile][pickle]") {
  // The payloads spell a GLOBAL collections.OrderedDict: a walker that took
  // these opcodes for one byte would find it and rewrite (or refuse) the file.
  const std::string fake = "ccollections\nOrderedDict\n)R";
  const std::string p = std::string("\x80\x05", 2) + "\x82" + "c" + "\x83" + le(0x6363, 2) + "\x84" +
                        le(0x63636363, 4) + "\x8b" + le(fake.size(), 4) + fake + "\x96" + le(fake.size(), 8) + fake +
                        "\x8e" + le(fake.size(), 8) + fake + "\x8d" + le(fake.size(), 8) + fake + "\x95" + le(7, 8) +
                        "T" + le(fake.size(), 4) + fake + "N.";
  CHECK(opcode_length(p, 2) == 2);                 // EXT1
  CHECK(opcode_length(p, 4) == 3);                 // EXT2
  CHECK(opcode_length(p, 7) == 5);                 // EXT4
  CHECK(opcode_length(p, 12) == 5 + fake.size());  // LONG4
  CHECK(pickle_without_ordered_dict(p) == p);
}

TEST_CASE("unknown opcodes, truncated arguments and negative lengths are refused by name", "[hostile][pickle]") {
  CHECK_THROWS_WITH(pickle_without_ordered_dict(std::string("\x80\x02\xff.", 4)),
                    Contains("unknown opcode 0xff") && Contains("byte 2"));
  CHECK_THROWS_WITH(pickle_without_ordered_dict(std::string("\x80\x02X\x05\x00", 5)), Contains("truncated argument"));
  CHECK_THROWS_WITH(pickle_without_ordered_dict("\x80\x02T" + le(0xfffffff0, 4) + "."),
                    Contains("BINSTRING with a negative length"));
  CHECK_THROWS_WITH(pickle_without_ordered_dict("ccollections\nOrderedDict"), Contains("GLOBAL without its newline"));
  CHECK_THROWS_WITH(pickle_without_ordered_dict(std::string("\x80\x02J\x01", 4)),
                    Contains("BININT argument truncated"));
}

TEST_CASE("a weights file with a hostile pickle is refused naming the file", "[hostile][pickle]") {
  TempDir d;
  torch::nn::Linear model(2, 2);
  for (const std::string& pickle :
       {std::string("\x80\x02\x8e", 3) + le(~std::uint64_t{0} - 8, 8) + "x.", std::string("\x80\x02\xfe.", 4),
        std::string("\x80\x02}q\x00(X\x01\x00\x00\x00"
                    "a",
                    12),
        std::string("\x80\x02ccollections\nOrderedDict\nq\x00N.", 31)}) {
    write_file(d.file("w.pt"), archive_with(pickle));
    CHECK_THROWS_WITH(load_state_dict_file(*model, d.file("w.pt"), true),
                      Contains("w.pt' is not a state dict trex can read"));
  }
}

TEST_CASE("pickles Python writes pass the checks: protocols 2, 4, 5 and torch.save state dicts", "[hostile][pickle]") {
  const fs::path corpus = fs::path(source_dir()) / "tests" / "fuzz" / "corpus" / "pickle";
  int checked = 0;
  for (const auto& f : fs::directory_iterator(corpus)) {
    INFO(f.path().string());
    CHECK_NOTHROW(check_pickle(read_file(f.path().string())));
    ++checked;
  }
  CHECK(checked >= 6);
}

TEST_CASE("the pickle machine refuses what LibTorch's unpickler would choke on", "[hostile][pickle]") {
  // A memo index far past the slots filled (LibTorch sized its memo to it: 31 GB).
  CHECK_THROWS_WITH(check_pickle("\x80\x02]r" + le(1946241797, 4) + "."),
                    Contains("memo slot 1946241797 set when 0 are filled"));
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02]h\x05.", 6)), Contains("memo slot 5 read when 0 are filled"));
  // A list placed inside itself, through the memo and through DUP.
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02]q\x00h\x00"
                                             "a.",
                                             9)),
                    Contains("still being built"));
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02]2a.", 6)), Contains("DUP of a container"));
  // 100 nested tuples: the depth a destructor would recurse.
  CHECK_THROWS_WITH(check_pickle("\x80\x02)" + std::string(100, '\x85') + "."),
                    Contains("nested deeper than 64 levels"));
  CHECK_NOTHROW(check_pickle("\x80\x02)" + std::string(60, '\x85') + "."));
  // Stack and mark underflow, values left at STOP.
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02"
                                             "a.",
                                             4)),
                    Contains("does not hold"));
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02"
                                             "t.",
                                             4)),
                    Contains("without a MARK"));
  CHECK_THROWS_WITH(check_pickle(std::string("\x80\x02NN.", 5)), Contains("STOP with 2 values left"));
}

TEST_CASE("a weights file whose tensor reaches past its stored data is refused", "[hostile][pickle]") {
  // The fuzz target's model: its keys match the file's, so the entries are read.
  torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)), torch::nn::Linear(2, 2));
  const auto load = [&](const std::string& name) {
    const std::string bytes = read_file(source_dir() + "/tests/fuzz/regressions/weights/" + name);
    load_state_dict(*model, std::vector<char>(bytes.begin(), bytes.end()), "w.pt", false);
  };
  // The pickle claims 4 floats; the record is empty, then 4 bytes short of them
  // (the element count in a pickle is only a claim: the record must hold it).
  CHECK_THROWS_WITH(load("empty_storage_record.pt"),
                    Contains("'w.pt': entry '1.weight' claims 16 bytes but its record data/2 holds 0"));
  CHECK_THROWS_WITH(load("short_record.pt"),
                    Contains("'w.pt': entry '1.weight' claims 16 bytes but its record data/2 holds 4"));
}
