#include "trex/train/callback.h"

namespace trex {

EpochLog epoch_log(std::int64_t epoch, const std::map<std::string, double>& train,
                   const std::map<std::string, double>& val, double lr, double seconds) {
  EpochLog log;
  log.epoch = epoch;
  log.lr = lr;
  log.seconds = seconds;
  for (const auto& [name, v] : train)
    log.rows.push_back({epoch + 1, "train", name, v, seconds}), log.values["train_" + name] = v;
  for (const auto& [name, v] : val)
    log.rows.push_back({epoch + 1, "val", name, v, seconds}), log.values["val_" + name] = v;
  return log;
}

double EpochLog::value(const std::string& key) const {
  const auto it = values.find(key);
  if (it != values.end()) return it->second;
  std::string known;
  for (const auto& [k, v] : values) known += (known.empty() ? "" : ", ") + k;
  throw std::runtime_error("'" + key + "' is monitored, but epoch " + std::to_string(epoch + 1) + " recorded only " +
                           known + "; monitor one of those (split_metric, e.g. val_accuracy)");
}

}  // namespace trex
