#include "ctl/telegram_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/duration.h"
#include "common/env_file.h"
#include "common/openclaw_config.h"
#include "common/text.h"

namespace gwr::ctl {

namespace {

using Clock = std::chrono::steady_clock;

bool token_shaped(const std::string& t) {
  const auto colon = t.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= t.size()) return false;
  for (size_t i = 0; i < colon; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  for (size_t i = colon + 1; i < t.size(); ++i) {
    const char c = t[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

Status write_private_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error("cannot write " + tmp + ": " + std::strerror(errno));
  (void)::fchmod(fd, 0600);  // whatever the umask
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error("cannot replace " + path + ": " + std::strerror(errno));
  }
  return {};
}

// Each call of setup, against the options' API and token.
BotAnswer call(HttpClient& http, const SetupOptions& o, const std::string& method, const nlohmann::json& params,
               std::chrono::milliseconds timeout) {
  return bot_api_call(http, o.api_base_url, o.token, method, params, timeout);
}

}  // namespace

BotAnswer bot_api_call(HttpClient& http, const std::string& base_url, const std::string& token, const std::string& method,
                       const nlohmann::json& params, std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.method = "POST";
  req.url = base_url + "/bot" + token + "/" + method;
  req.headers = {"Content-Type: application/json"};
  req.body = params.dump();
  req.timeout = timeout;
  req.use_proxy = true;
  const auto r = http.send(req);
  BotAnswer a;
  a.status = r.status;
  if (!r.completed()) {
    a.error = r.timed_out ? "no answer from the Bot API in time"
                          : std::string("the Bot API cannot be reached (") + (r.connect_failed ? "connection failed" : "transport error") + ")";
    return a;
  }
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("ok")) {
    a.error = "the Bot API answered HTTP " + std::to_string(r.status) + " with something that is not its JSON";
    return a;
  }
  if (j.value("ok", false) != true) {
    const std::string description = j.contains("description") && j["description"].is_string()
                                        ? clip_end(one_line_utf8(j["description"].get<std::string>()), 200)
                                        : std::string("no description");
    a.error = "HTTP " + std::to_string(r.status) + ": " + description;
    return a;
  }
  a.result = j.contains("result") ? j["result"] : nlohmann::json();
  return a;
}

std::optional<StartSeen> find_start(const nlohmann::json& updates, int64_t& next_offset) {
  if (!updates.is_array()) return std::nullopt;
  std::optional<StartSeen> seen;
  const int64_t now_s = static_cast<int64_t>(std::time(nullptr));
  for (const auto& u : updates) {
    if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer()) continue;
    next_offset = std::max(next_offset, u["update_id"].get<int64_t>() + 1);
    if (seen || !u.contains("message") || !u["message"].is_object()) continue;
    const auto& m = u["message"];
    if (!m.contains("text") || !m["text"].is_string()) continue;
    const std::string text = m["text"].get<std::string>();
    const bool start = text == "/start" || text.rfind("/start ", 0) == 0 || text.rfind("/start@", 0) == 0;
    if (!start) continue;
    // Only a recent one: a /start from last week is not this set-up's.
    if (m.contains("date") && m["date"].is_number_integer() && now_s - m["date"].get<int64_t>() > 600) continue;
    if (!m.contains("chat") || !m["chat"].is_object() || !m["chat"].contains("id") || !m["chat"]["id"].is_number_integer()) continue;
    if (!m.contains("from") || !m["from"].is_object() || !m["from"].contains("id") || !m["from"]["id"].is_number_integer()) continue;
    if (m["from"].value("is_bot", false)) continue;
    StartSeen s;
    s.chat_id = m["chat"]["id"].get<int64_t>();
    s.user_id = m["from"]["id"].get<int64_t>();
    const auto& chat = m["chat"];
    std::string title = chat.contains("title") && chat["title"].is_string() ? chat["title"].get<std::string>()
                        : chat.contains("first_name") && chat["first_name"].is_string() ? chat["first_name"].get<std::string>()
                                                                                        : "";
    s.chat_title = clip_end(one_line_utf8(title), 64);
    seen = s;
  }
  return seen;
}

SetupOutcome telegram_setup(const SetupOptions& o, HttpClient& http, const std::function<void(const std::string&)>& say) {
  if (!token_shaped(o.token)) {
    return SetupError{"that does not look like a bot token from @BotFather (digits:letters)", true};
  }
  if (auto clash = bot_token_clash(o.token, o.openclaw_config)) return SetupError{*clash, true};

  const auto me = call(http, o, "getMe", nlohmann::json::object(), std::chrono::seconds(15));
  if (!me.error.empty()) {
    if (me.status == 401 || me.status == 404) {
      return SetupError{"Telegram rejected the token (" + me.error + "): copy it again from @BotFather", true};
    }
    return SetupError{"getMe failed: " + me.error, false};
  }
  SetupResult out;
  out.bot_username = me.result.is_object() && me.result.contains("username") && me.result["username"].is_string()
                         ? clip_end(one_line_utf8(me.result["username"].get<std::string>()), 64)
                         : "";
  say("Bot @" + out.bot_username + " answers. Now send /start to it in Telegram, in the chat gwr should report to "
      "(waiting up to " + format_duration_ms(o.wait.count()) + ").");

  const auto deadline = Clock::now() + o.wait;
  int64_t offset = 0;
  std::optional<StartSeen> start;
  while (!start && Clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
    const int64_t wait_s = std::clamp<int64_t>(left.count(), 0, 25);
    nlohmann::json params = {{"timeout", wait_s}, {"allowed_updates", nlohmann::json::array({"message"})}};
    if (offset != 0) params["offset"] = offset;
    const auto got = call(http, o, "getUpdates", params, std::chrono::seconds(wait_s + 10));
    if (!got.error.empty()) {
      if (got.status == 409) {
        return SetupError{"another program polls this bot (" + got.error +
                              "): a running gwr with this token, or a webhook. Stop it, then run this again.",
                          false};
      }
      if (got.status == 401) return SetupError{"Telegram rejected the token: " + got.error, true};
      say("getUpdates failed (" + got.error + "); trying again");
      if (Clock::now() + std::chrono::seconds(2) < deadline) std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    start = find_start(got.result, offset);
  }
  if (!start) return SetupError{"no /start reached @" + out.bot_username + " within " + format_duration_ms(o.wait.count()), false};
  // Acknowledge what was read, so the bridge does not answer that /start again.
  (void)call(http, o, "getUpdates", {{"offset", offset}, {"timeout", 0}}, std::chrono::seconds(10));
  out.chat_id = start->chat_id;
  out.user_id = start->user_id;
  out.chat_title = start->chat_title;
  say("Heard /start from user " + std::to_string(out.user_id) + " in chat " + std::to_string(out.chat_id) +
      (out.chat_title.empty() ? "" : " (" + out.chat_title + ")") + ".");

  const auto sent = call(http, o, "sendMessage",
                         {{"chat_id", out.chat_id},
                          {"text", "✅ gwr is set up: this chat gets its reports on the OpenClaw gateway, and user " +
                                       std::to_string(out.user_id) + " may command it (/status, /repair, /pause)."}},
                         std::chrono::seconds(15));
  if (!sent.error.empty()) return SetupError{"the test message could not be sent: " + sent.error, false};
  say("Test message sent.");

  std::string existing;
  {
    std::ifstream in(o.env_path);
    std::stringstream ss;
    ss << in.rdbuf();
    existing = ss.str();
  }
  const std::string text = set_env_values(existing, {{"TELEGRAM_BOT_TOKEN", o.token},
                                                     {"TELEGRAM_CHAT_ID", std::to_string(out.chat_id)},
                                                     {"TELEGRAM_ALLOWED_USER_IDS", std::to_string(out.user_id)}});
  if (auto st = write_private_file(o.env_path, text); !st) return SetupError{st.message(), false};
  say("Wrote " + o.env_path + " (mode 0600): TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID, TELEGRAM_ALLOWED_USER_IDS.");
  return out;
}

}  // namespace gwr::ctl
