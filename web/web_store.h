// paths.state_dir/web.db: what the status page's timeline needs and no
// other process keeps: each state the gateway entered, and its RSS every
// ten minutes, for eight days (the page shows seven). Written by gwr-web's
// main loop only; a failure to write is logged and the page goes on from
// memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/sqlite.h"
#include "web/page.h"

namespace gwr::web {

class WebStore {
 public:
  static Result<std::unique_ptr<WebStore>> open(const std::string& path);
  Status add_state(const StateChange& change);
  Status add_rss(const RssSample& sample);
  // Everything newer than since_ms, oldest first (with the last state before it).
  std::vector<StateChange> states(int64_t since_ms);
  std::vector<RssSample> rss(int64_t since_ms);
  void prune(int64_t before_ms);

 private:
  explicit WebStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::unique_ptr<Database> db_;
};

}  // namespace gwr::web
