#include "common/decode_watch.h"

#include <algorithm>

namespace gwr {

pb::Alert DecodeWatch::alert(const std::string& topic, const Topic& t, bool cleared) const {
  pb::Alert a;
  a.set_kind(pb::Alert::UNDECODABLE_MESSAGES);
  a.set_component(component_);
  a.set_topic(topic);
  a.set_count(t.total);
  a.set_since_ms(t.since_ms);
  a.set_cleared(cleared);
  a.set_detail(std::to_string(t.total) + " message(s) on \"" + topic + "\" could not be decoded since it began");
  return a;
}

std::vector<pb::Alert> DecodeWatch::on_drop(const std::string& topic, int64_t now_ms) {
  // A bounded map: garbage topics from a stranger must not grow memory.
  if (topics_.size() > 64 && !topics_.count(topic)) return {};
  Topic& t = topics_[topic];
  ++t.total;
  t.last_ms = now_ms;
  t.recent.push_back(now_ms);
  t.recent.erase(t.recent.begin(), std::find_if(t.recent.begin(), t.recent.end(),
                                                [&](int64_t at) { return at > now_ms - settings_.window_ms; }));
  if (t.raised || t.recent.size() < settings_.threshold) return {};
  t.raised = true;
  t.since_ms = t.recent.front();
  return {alert(topic, t, false)};
}

std::vector<pb::Alert> DecodeWatch::on_tick(int64_t now_ms) {
  std::vector<pb::Alert> out;
  for (auto it = topics_.begin(); it != topics_.end();) {
    Topic& t = it->second;
    if (now_ms - t.last_ms < settings_.clear_after_ms) {
      ++it;
      continue;
    }
    if (t.raised) out.push_back(alert(it->first, t, true));
    it = topics_.erase(it);
  }
  return out;
}

std::vector<pb::Alert> DecodeWatch::active() const {
  std::vector<pb::Alert> out;
  for (const auto& [topic, t] : topics_) {
    if (t.raised) out.push_back(alert(topic, t, false));
  }
  return out;
}

}  // namespace gwr
