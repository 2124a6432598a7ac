// use_fused_convs (model/fused_conv.h): a frozen graph's convolutions, and the
// add and ReLU after each, rewritten into trex::fused_conv2d.
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/graph_rewrite_helper.h>
#include <torch/csrc/jit/passes/symbolic_shape_analysis.h>

#include "trex/model/fused_conv.h"
#include "trex/model/winograd.h"

namespace trex {
namespace {

using torch::jit::Node;
using torch::jit::Value;

std::optional<std::vector<std::int64_t>> const_pair(Value* v) {
  const auto iv = torch::jit::toIValue(v);
  if (!iv || !iv->isIntList() || iv->toIntVector().size() != 2) return std::nullopt;
  return iv->toIntVector();
}

bool is_const_int(Value* v, std::int64_t want) {
  const auto iv = torch::jit::toIValue(v);
  return iv && iv->isInt() && iv->toInt() == want;
}

bool is_const_bool(Value* v, bool want) {
  const auto iv = torch::jit::toIValue(v);
  return iv && iv->isBool() && iv->toBool() == want;
}

/// A convolution the op takes: its constant weight and geometry.
struct Conv {
  Node* node;
  at::Tensor weight;
  std::vector<std::int64_t> stride, padding, dilation;
  bool winograd;
};

std::optional<Conv> match_conv(Node* n) {
  static const auto conv2d = c10::Symbol::fromQualString("aten::conv2d");
  static const auto convolution = c10::Symbol::fromQualString("aten::_convolution");
  const bool plain = n->kind() == conv2d && n->inputs().size() == 7;
  const bool general = n->kind() == convolution && n->inputs().size() >= 9;
  if (!plain && !general) return std::nullopt;
  const auto w = torch::jit::toIValue(n->input(1));
  if (!w || !w->isTensor()) return std::nullopt;
  const at::Tensor weight = w->toTensor();
  const auto type = weight.scalar_type();
  if (weight.dim() != 4 || weight.is_mkldnn() || (type != at::kFloat && type != at::kBFloat16)) return std::nullopt;
  const auto stride = const_pair(n->input(3)), padding = const_pair(n->input(4)), dilation = const_pair(n->input(5));
  const bool ungrouped =
      plain ? is_const_int(n->input(6), 1) : is_const_bool(n->input(6), false) && is_const_int(n->input(8), 1);
  if (!stride || !padding || !dilation || !ungrouped) return std::nullopt;
  const std::vector<std::int64_t> one{1, 1};
  // bf16 ones too: fused_conv2d runs those as fp32 Winograd only where that pays.
  const bool winograd = weight.size(2) == 3 && weight.size(3) == 3 && *stride == one && *padding == one &&
                        *dilation == one && weight.size(0) % 16 == 0 && weight.size(1) % 16 == 0 &&
                        winograd_available();
  return Conv{n, weight, *stride, *padding, *dilation, winograd};
}

/// The node that is `v`'s only use, if any.
Node* only_user(Value* v) { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; }

/// An add of `out` and another tensor (alpha 1) that is out's only use: the
/// other tensor. An in-place add only into `out` itself: one into the other
/// tensor would change it for its later uses.
Value* residual_of(Value* out, Node* add) {
  static const auto plus = c10::Symbol::fromQualString("aten::add");
  static const auto plus_ = c10::Symbol::fromQualString("aten::add_");
  if (!add || (add->kind() != plus && add->kind() != plus_) || add->inputs().size() != 3) return nullptr;
  if (!is_const_int(add->input(2), 1)) return nullptr;
  Value* other = add->input(0) == out ? add->input(1) : add->kind() == plus ? add->input(0) : nullptr;
  if (!other || other == out || other->type()->kind() != c10::TypeKind::TensorType) return nullptr;
  return add->input(0) == out || add->input(1) == out ? other : nullptr;
}

bool is_relu_of(Node* n, Value* v) {
  static const auto relu = c10::Symbol::fromQualString("aten::relu");
  static const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
  return n && (n->kind() == relu || n->kind() == relu_) && n->input(0) == v;
}

/// `c` and the add and ReLU after it as one trex::fused_conv2d. With an add,
/// the convolution first moves down to just before it (a residual may be
/// computed after the convolution), where alias analysis allows: not past a
/// write to its input. Where it does not, the convolution alone.
void fuse(std::shared_ptr<torch::jit::Graph>& graph, const Conv& c) {
  static const auto op = c10::Symbol::fromQualString("trex::fused_conv2d");
  std::vector<Node*> chain{c.node};
  Value* out = c.node->output();
  Value* residual = residual_of(out, only_user(out));
  if (residual && !torch::jit::AliasDb(graph).moveBeforeTopologicallyValid(c.node, only_user(out))) residual = nullptr;
  if (residual) chain.push_back(only_user(out));
  Value* last = chain.back()->output();
  const bool relu = is_relu_of(only_user(last), last);
  if (relu) chain.push_back(only_user(last));
  // Where the convolution is now: its inputs and the residual are there, and
  // the add and ReLU read nothing but the convolution's fresh output after it.
  torch::jit::WithInsertPoint guard(c.node);
  Node* n = graph->create(
      op, {c.node->input(0), c.node->input(1), c.node->input(2), graph->insertConstant(c.stride),
           graph->insertConstant(c.padding), graph->insertConstant(c.dilation), graph->insertConstant(c.winograd),
           residual ? residual : graph->insertConstant(c10::IValue()), graph->insertConstant(relu)});
  n->insertBefore(c.node);
  n->output()->setType(chain.back()->output()->type());
  chain.back()->output()->replaceAllUsesWith(n->output());
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) (*it)->destroy();
}

using Sizes = std::vector<std::int64_t>;

/// A convolution's input and output sizes, where known.
struct ConvIO {
  c10::optional<Sizes> in, out;
};

c10::optional<Sizes> sizes_of(const Value* v) {
  const auto t = v->type()->cast<c10::TensorType>();
  return t ? t->sizes().concrete_sizes() : c10::nullopt;
}

/// Every 2-D convolution node of `graph`, in graph order, trex's or not.
std::vector<Node*> convolutions(torch::jit::Graph& graph) {
  static const auto conv2d = c10::Symbol::fromQualString("aten::conv2d");
  static const auto convolution = c10::Symbol::fromQualString("aten::_convolution");
  std::vector<Node*> out;
  for (Node* n : graph.nodes())
    if (n->kind() == conv2d || n->kind() == convolution) out.push_back(n);
  return out;
}

/// What `io` (one entry per node of `convs`) says of the convolutions trex
/// fuses; a convolution whose sizes are unknown is not counted.
ConvSizes count(const std::vector<Node*>& convs, const std::vector<ConvIO>& io) {
  ConvSizes out;
  for (std::size_t i = 0; i < convs.size(); ++i) {
    const auto c = match_conv(convs[i]);
    if (!c) continue;
    const auto& [in, y] = io[i];
    out.bf16_winograd += c->winograd && in && winograd_pays_in_bf16(*in, c->weight.sizes().vec());
    if (y && y->size() == 4) out.largest_output = std::max(out.largest_output, (*y)[1] * (*y)[2] * (*y)[3]);
  }
  return out;
}

/// The sizes the trace recorded, one entry per convolution of `frozen`:
/// freezing erases them, but keeps each convolution, in order (BatchNorm is
/// folded into its weight). None where the trace was of other images than
/// x's, or where the two do not pair up: counts, or weights against channels.
std::optional<std::vector<ConvIO>> recorded(const torch::jit::Module& traced, const std::vector<Node*>& frozen,
                                            const at::Tensor& x) {
  auto graph = traced.get_method("forward").graph();
  const auto input = graph->inputs().size() == 2 ? sizes_of(graph->inputs()[1]) : c10::nullopt;
  if (!input || input->size() != static_cast<std::size_t>(x.dim()) || x.dim() == 0 ||
      !std::equal(input->begin() + 1, input->end(), x.sizes().begin() + 1))
    return std::nullopt;
  const auto convs = convolutions(*graph);
  if (convs.size() != frozen.size()) return std::nullopt;
  std::vector<ConvIO> io;
  for (std::size_t i = 0; i < convs.size(); ++i) {
    ConvIO c{sizes_of(convs[i]->input(0)), sizes_of(convs[i]->output())};
    const auto weight = torch::jit::toIValue(frozen[i]->input(1));
    if (!c.in || !c.out || c.in->size() != 4 || c.out->size() != 4 || !weight || !weight->isTensor() ||
        weight->toTensor().dim() != 4 || weight->toTensor().size(0) != (*c.out)[1])
      return std::nullopt;
    io.push_back(std::move(c));
  }
  return io;
}

}  // namespace

ConvSizes conv_sizes(const torch::jit::Module& traced, const torch::jit::Module& frozen, const at::Tensor& x) {
  // The trace's own record first: shape analysis of the frozen graph took
  // 0.28 s of InceptionV3's first batch at 299 px.
  const auto convs = convolutions(*frozen.get_method("forward").graph());
  if (const auto io = recorded(traced, convs, x)) return count(convs, *io);
  // Otherwise on a copy: shape analysis knows aten::conv2d's sizes, not the trace's aten::_convolution.
  auto graph = frozen.get_method("forward").graph()->copy();
  if (graph->inputs().size() != 2) return {};  // (self, x): a method of one input
  graph->inputs()[1]->setType(c10::TensorType::create(x));
  try {
    torch::jit::graph_rewrite_helper::replaceConvolutionWithAtenConv(graph);
    torch::jit::PropagateShapesOnGraph(graph);
  } catch (const std::exception&) {  // sizes unknown: none counted
    return {};
  }
  const auto copied = convolutions(*graph);
  std::vector<ConvIO> io;
  for (Node* n : copied) io.push_back({sizes_of(n->input(0)), sizes_of(n->output())});
  return count(copied, io);
}

std::size_t use_fused_convs(torch::jit::Module& module) {
  auto graph = module.get_method("forward").graph();
  std::vector<Conv> convs;
  for (Node* n : graph->nodes())
    if (auto c = match_conv(n)) convs.push_back(*c);
  for (const Conv& c : convs) fuse(graph, c);
  return convs.size();
}

}  // namespace trex
