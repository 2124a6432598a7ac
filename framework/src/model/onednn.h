#pragma once
// What trex's own oneDNN convolutions (fused_conv.cpp, winograd_train.cpp)
// share: oneDNN's CPU engine and tensors described to it. Internal to trex_model.
#include <cstdint>

#include <ATen/ATen.h>
#include <oneapi/dnnl/dnnl.hpp>

namespace trex::onednn {

using Dims = dnnl::memory::dims;

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

/// oneDNN's name for an fp32 or bf16 tensor's element type.
inline dnnl::memory::data_type data_type(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

/// An fp32 or bf16 tensor as oneDNN sees it: its sizes and its strides.
inline dnnl::memory::desc plain(const at::Tensor& t) {
  return dnnl::memory::desc(Dims(t.sizes().begin(), t.sizes().end()), data_type(t),
                            Dims(t.strides().begin(), t.strides().end()));
}

inline dnnl::memory::desc blocked16(const Dims& dims) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nChw16c);
}

/// Bytes for a tensor in oneDNN's layout `d` (blocked, Winograd), allocated by
/// LibTorch as elements of `like`'s type.
inline at::Tensor buffer(const dnnl::memory::desc& d, const at::Tensor& like) {
  const auto size = static_cast<std::int64_t>(like.element_size());
  return at::empty({(static_cast<std::int64_t>(d.get_size()) + size - 1) / size}, like.options());
}

/// `slot`'s bytes, grown to hold layout `d` first: a scratch buffer reused
/// call after call. Fresh buffers of a Winograd layer's size (GBs at 224 px)
/// cost more in page faults than the convolution itself.
inline at::Tensor grown(at::Tensor& slot, const dnnl::memory::desc& d) {
  const auto floats = static_cast<std::int64_t>((d.get_size() + sizeof(float) - 1) / sizeof(float));
  if (!slot.defined() || slot.numel() < floats) slot = at::empty({floats}, at::kFloat);
  return slot;
}

inline dnnl::memory view(const dnnl::memory::desc& d, const at::Tensor& bytes) {
  return dnnl::memory(d, engine(), bytes.data_ptr());
}

/// `from` copied into `to` (a oneDNN layout, in bytes large enough).
inline void reorder_into(const at::Tensor& from, dnnl::memory to, dnnl::stream& s) {
  dnnl::memory src = view(plain(from), from);
  dnnl::reorder(src, to).execute(s, src, to);
}

inline void reorder_into(const at::Tensor& from, const dnnl::memory::desc& to, const at::Tensor& bytes,
                         dnnl::stream& s) {
  reorder_into(from, view(to, bytes), s);
}

/// `from` copied into new bytes in oneDNN's layout `to`.
inline at::Tensor reorder_to(const at::Tensor& from, const dnnl::memory::desc& to, dnnl::stream& s) {
  at::Tensor bytes = buffer(to, from);
  reorder_into(from, to, bytes, s);
  return bytes;
}

/// `from` (in a oneDNN layout) copied into the plain tensor `to`.
inline void reorder_from(dnnl::memory from, at::Tensor& to, dnnl::stream& s) {
  dnnl::memory dst = view(plain(to), to);
  dnnl::reorder(from, dst).execute(s, from, dst);
}

}  // namespace trex::onednn
