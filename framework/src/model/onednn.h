#pragma once
// What the Winograd convolutions (winograd.cpp, winograd_train.cpp) share:
// oneDNN's CPU engine and tensors described to it. Internal to trex_model.
#include <cstdint>

#include <ATen/ATen.h>
#include <oneapi/dnnl/dnnl.hpp>

namespace trex::onednn {

using Dims = dnnl::memory::dims;

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

/// An fp32 tensor as oneDNN sees it: its sizes and its strides.
inline dnnl::memory::desc plain(const at::Tensor& t) {
  return dnnl::memory::desc(Dims(t.sizes().begin(), t.sizes().end()), dnnl::memory::data_type::f32,
                            Dims(t.strides().begin(), t.strides().end()));
}

inline dnnl::memory::desc blocked16(const Dims& dims) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nChw16c);
}

/// Bytes for a tensor in oneDNN's layout `d` (blocked, Winograd), allocated by LibTorch.
inline at::Tensor buffer(const dnnl::memory::desc& d, const at::Tensor& like) {
  return at::empty({static_cast<std::int64_t>(d.get_size() / sizeof(float))}, like.options());
}

inline dnnl::memory view(const dnnl::memory::desc& d, const at::Tensor& bytes) {
  return dnnl::memory(d, engine(), bytes.data_ptr());
}

/// `from` copied into `bytes` (large enough) in oneDNN's layout `to`.
inline void reorder_into(const at::Tensor& from, const dnnl::memory::desc& to, const at::Tensor& bytes,
                         dnnl::stream& s) {
  dnnl::memory src = view(plain(from), from), dst = view(to, bytes);
  dnnl::reorder(src, dst).execute(s, src, dst);
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
