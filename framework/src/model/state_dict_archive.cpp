#include "trex/model/state_dict_archive.h"

#include <sstream>

#include <ATen/ops/empty.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include "trex/model/ordered_dict_pickle.h"
#include "trex/model/pickle_check.h"
#include "trex/model/script_archive.h"

namespace trex {
namespace {

// Storage placeholders carry their record's key as the DataPtr's context; the
// pointer is never read (shape_of's tensors are metadata only).
void delete_key(void* key) { delete static_cast<std::string*>(key); }

c10::DataPtr placeholder(const std::string& key) {
  auto* owned = new std::string(key);
  return c10::DataPtr(owned, owned, &delete_key, c10::Device(c10::kCPU));
}

c10::IValue unpickle(const std::string& pickle, std::uint64_t version) {
  std::size_t at = 0;
  torch::jit::Unpickler unpickler(
      [&](char* buffer, std::size_t len) {
        len = std::min(len, pickle.size() - at);
        std::memcpy(buffer, pickle.data() + at, len);
        at += len;
        return len;
      },
      nullptr, nullptr, [](const std::string& key) { return placeholder(key); }, c10::Device(c10::kCPU));
  unpickler.set_version(version);
  return unpickler.parse_ivalue();
}

}  // namespace

StateDictArchive::StateDictArchive(const std::string& path) : label_(path) {
  try {
    reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.msg().substr(0, e.msg().find('\n')));
  }
  parse();
}

StateDictArchive::StateDictArchive(const std::vector<char>& bytes, const std::string& label)
    : label_(label), bytes_(std::make_unique<std::istringstream>(std::string(bytes.begin(), bytes.end()))) {
  try {
    reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(bytes_.get());
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.msg().substr(0, e.msg().find('\n')));
  }
  parse();
}

StateDictArchive::~StateDictArchive() = default;

void StateDictArchive::parse() {
  if (!reader_->hasRecord("data.pkl"))
    throw std::runtime_error("the archive has no data.pkl record (not a torch.save file)");
  const auto [ptr, size] = reader_->getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(ptr.get()), size);
  // Our walker checks every opcode and length before LibTorch's unpickler reads them.
  check_pickle(pickle);
  c10::IValue value;
  try {
    value = unpickle(pickle, reader_->version());
  } catch (const std::exception&) {
    value = c10::IValue();  // PyTorch's default torch.save(model.state_dict()) pickles an OrderedDict
  }
  if (value.isNone()) value = unpickle(pickle_without_ordered_dict(pickle), reader_->version());
  check_tensors(value, label_);  // every view inside the storage the pickle claims
  if (!value.isGenericDict()) throw std::runtime_error("it holds a " + value.tagKind() + ", not a dict of tensors");
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor())
      throw std::runtime_error("every entry must map a name to a tensor");
    const at::Tensor& t = kv.value().toTensor();
    const std::string& name = kv.key().toStringRef();
    shapes_[name] = t;
    if (t.numel() == 0) continue;  // no record behind it
    const auto* key = static_cast<const std::string*>(t.storage().data_ptr().get_context());
    if (!key || t.storage().data_ptr().get_deleter() != &delete_key)
      throw std::runtime_error("entry '" + name + "' has no stored data");
    record_of_[name] = *key;
    ++entries_per_record_[*key];
  }
}

std::vector<std::string> StateDictArchive::names() const {
  std::vector<std::string> out;
  for (const auto& kv : shapes_) out.push_back(kv.first);
  return out;
}

const at::Tensor& StateDictArchive::shape_of(const std::string& name) const { return shapes_.at(name); }

bool StateDictArchive::owns_record(const std::string& name) const {
  const at::Tensor& t = shapes_.at(name);
  const auto it = record_of_.find(name);
  return it != record_of_.end() && entries_per_record_.at(it->second) == 1 && t.storage_offset() == 0 &&
         t.is_contiguous() &&
         t.numel() * static_cast<std::int64_t>(t.element_size()) == static_cast<std::int64_t>(t.storage().nbytes());
}

at::Storage StateDictArchive::storage(const std::string& record) {
  auto it = storages_.find(record);
  if (it != storages_.end()) return it->second;
  try {
    auto [data, size] = reader_->getRecord("data/" + record);
    at::Storage s(c10::Storage::use_byte_size_t(), static_cast<std::int64_t>(size), std::move(data), nullptr, false);
    return storages_[record] = s;
  } catch (const c10::Error& e) {
    throw std::runtime_error("weights file '" + label_ + "': record data/" + record +
                             " cannot be read: " + e.msg().substr(0, e.msg().find('\n')));
  }
}

at::Tensor StateDictArchive::read(const std::string& name) {
  const at::Tensor& shape = shapes_.at(name);
  const auto it = record_of_.find(name);
  if (it == record_of_.end()) return at::empty(shape.sizes(), shape.options());  // no elements
  at::Storage s = storage(it->second);
  // The pickle's element count is only a claim: the record must hold it.
  if (shape.storage().nbytes() > s.nbytes())
    throw std::runtime_error("weights file '" + label_ + "': entry '" + name + "' claims " +
                             std::to_string(shape.storage().nbytes()) + " bytes but its record data/" + it->second +
                             " holds " + std::to_string(s.nbytes()) +
                             "; the file is damaged or was not written by "
                             "torch.save");
  at::Tensor t = at::empty({0}, shape.options()).set_(s, shape.storage_offset(), shape.sizes(), shape.strides());
  if (!tensor_in_bounds(t))
    throw std::runtime_error("weights file '" + label_ + "': entry '" + name + "' reaches past its stored data");
  return t;
}

}  // namespace trex
