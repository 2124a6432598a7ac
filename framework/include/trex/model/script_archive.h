#pragma once
// A trex checkpoint is a LibTorch serialize archive: a zip whose code/*.py
// records LibTorch compiles as TorchScript and whose *.pkl records it
// unpickles. LibTorch 1.13's TorchScript front end crashes on some malformed
// code (fuzzing found a SEGV in its type parser), so a checkpoint from
// elsewhere is checked first: its code may only declare what
// torch::serialize::OutputArchive writes — module classes with typed
// attributes, no statements — and each pickle must be well formed; after
// loading, every tensor must lie inside its storage.
#include <string>

namespace caffe2::serialize {
class PyTorchStreamReader;
}
namespace at {
class Tensor;
}
namespace c10 {
struct IValue;
}

namespace trex {

/// Throws naming `label`, the record and the line when the archive holds anything else.
void check_script_archive(caffe2::serialize::PyTorchStreamReader& reader, const std::string& label);

/// True when every element the tensor's sizes and strides reach lies inside
/// its storage. LibTorch builds a loaded tensor's view from the file without
/// that check: a file whose storage record is shorter than its tensor claims
/// gave a tensor over a null pointer (fuzzing found the SEGV).
bool tensor_in_bounds(const at::Tensor& t);
/// Throws naming `label` when any tensor inside `value` (dicts, lists, modules) is not in bounds.
void check_tensors(const c10::IValue& value, const std::string& label);

/// One line of such code: `class NAME(Module):` or an indented attribute,
/// parameter, buffer or annotation declaration with a type of bounded depth.
bool is_declaration_line(const std::string& line);

}  // namespace trex
