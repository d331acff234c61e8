#include "tests/fakes/telegram/fake_telegram.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <httplib.h>

#include "tests/fakes/telegram/telegram_text.h"

namespace gwr::testing {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
// One part of a multipart body: httplib::MultipartFormData up to cpp-httplib
// 0.22 (Debian 12 has 0.11), httplib::FormData since 0.23 (Homebrew's), with
// the same fields. CPPHTTPLIB_VERSION_NUM came with 0.23.1.
#ifdef CPPHTTPLIB_VERSION_NUM
using FormPart = httplib::FormData;
#else
using FormPart = httplib::MultipartFormData;
#endif
using Files = std::map<std::string, FormPart>;

// Every long poll and every hung request holds a worker for as long as it waits.
constexpr size_t kWorkerThreads = 32;
// An idle keep-alive connection holds its worker this long after stop(); keep it short.
constexpr time_t kKeepAliveSeconds = 1;
constexpr int64_t kDefaultBotId = 7000000001;
constexpr int64_t kCallbackIdBase = 4'000'000'000'000'000'000;
constexpr size_t kMaxTextLength = 4096;
constexpr size_t kMaxCaptionLength = 1024;
constexpr size_t kMaxCallbackDataBytes = 64;
constexpr const char* kNotModified =
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message";
constexpr const char* kQueryInvalid = "query is too old and response timeout expired or query ID is invalid";
constexpr const char* kBadGatewayHtml =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// application/x-www-form-urlencoded, parsed here because httplib caps such bodies at 8 KiB
// while Telegram takes a 4096-character message that percent-encodes far larger.
void parse_form(std::string_view body, json& into) {
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('&', pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(pos, end - pos);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const std::string key = url_decode(pair.substr(0, eq));
      const std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
      into[key] = value;
    }
    pos = end + 1;
  }
}

std::optional<int64_t> to_int(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::trunc(d) != d || std::fabs(d) > 9e18) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    int64_t out = 0;
    const char* first = s.data();
    if (!s.empty() && s[0] == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
    if (ec != std::errc() || ptr != s.data() + s.size() || first == s.data() + s.size()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

std::optional<double> to_number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return std::nullopt;
    return d;
  }
  return std::nullopt;
}

std::optional<std::string> to_text(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  return dump(v);
}

bool to_bool(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    return s == "true" || s == "1" || s == "yes";
  }
  return false;
}

const json* find(const json& params, const char* key) {
  const auto it = params.find(key);
  return it == params.end() ? nullptr : &*it;
}

std::optional<int64_t> int_of(const json& params, const char* key) {
  const json* v = find(params, key);
  return v ? to_int(*v) : std::nullopt;
}

std::optional<std::string> text_of(const json& params, const char* key) {
  const json* v = find(params, key);
  return v ? to_text(*v) : std::nullopt;
}

bool bool_of(const json& params, const char* key) {
  const json* v = find(params, key);
  return v && to_bool(*v);
}

// A JSON-typed parameter: form encodings carry it serialized, JSON bodies inline.
// nullopt when absent; a discarded value when it does not parse.
std::optional<json> json_of(const json& params, const char* key) {
  const json* v = find(params, key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty()) return std::nullopt;
    return json::parse(s, nullptr, false);
  }
  return *v;
}

std::string default_description(int code, int retry_after) {
  switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden: bot was blocked by the user";
    case 404: return "Not Found";
    case 409: return "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
    case 429: return "Too Many Requests: retry after " + std::to_string(std::max(retry_after, 1));
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    default: return "Error " + std::to_string(code);
  }
}

// What Telegram objects to in a reply_markup, without the "Bad Request: " prefix ("" = fine).
std::string check_markup(const json& m) {
  if (!m.is_object()) return "can't parse reply keyboard markup JSON object";
  if (const json* rows = find(m, "inline_keyboard")) {
    if (!rows->is_array()) return "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array";
    static const char* const kActions[] = {"callback_data",
                                           "url",
                                           "switch_inline_query",
                                           "switch_inline_query_current_chat",
                                           "switch_inline_query_chosen_chat",
                                           "login_url",
                                           "web_app",
                                           "callback_game",
                                           "copy_text",
                                           "pay"};
    for (const json& row : *rows) {
      if (!row.is_array()) return "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays";
      for (const json& button : row) {
        if (!button.is_object()) return "can't parse inline keyboard button: InlineKeyboardButton must be an Object";
        const json* text = find(button, "text");
        if (!text || !text->is_string()) return "can't parse inline keyboard button: Field \"text\" must be of type String";
        if (text->get_ref<const std::string&>().empty()) return "BUTTON_TEXT_EMPTY";
        bool has_action = false;
        for (const char* action : kActions) has_action = has_action || button.contains(action);
        if (!has_action) return "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard";
        if (const json* data = find(button, "callback_data")) {
          if (!data->is_string()) return "can't parse inline keyboard button: Field \"callback_data\" must be of type String";
          const auto& d = data->get_ref<const std::string&>();
          if (d.empty() || d.size() > kMaxCallbackDataBytes) return "BUTTON_DATA_INVALID";
        }
        if (const json* url = find(button, "url")) {
          if (!url->is_string() || url->get_ref<const std::string&>().empty()) return "BUTTON_URL_INVALID";
        }
      }
    }
    return "";
  }
  if (m.contains("keyboard") || m.contains("remove_keyboard") || m.contains("force_reply")) return "";
  return "can't parse reply keyboard markup JSON object";
}

json chat_json(int64_t chat_id) {
  if (chat_id > 0) {
    return {{"id", chat_id}, {"type", "private"}, {"first_name", "Owner"}, {"username", "user" + std::to_string(chat_id)}};
  }
  return {{"id", chat_id}, {"type", chat_id <= -1'000'000'000'000 ? "supergroup" : "group"}, {"title", "gwr test group"}};
}

json user_json(int64_t user_id) {
  return {{"id", user_id},
          {"is_bot", false},
          {"first_name", "Owner"},
          {"username", "user" + std::to_string(user_id)},
          {"language_code", "en"}};
}

// "/bot<token>/<method>" → token and method; false for any other path.
bool split_bot_path(const std::string& path, std::string& token, std::string& method) {
  if (path.rfind("/bot", 0) != 0) return false;
  const size_t slash = path.find('/', 4);
  if (slash == std::string::npos || slash == 4) return false;
  token = path.substr(4, slash - 4);
  method = path.substr(slash + 1);
  return !method.empty() && method.find('/') == std::string::npos;
}

int64_t bot_id_from_token(const std::string& token) {
  int64_t id = 0;
  const size_t colon = token.find(':');
  if (colon == std::string::npos || colon == 0) return kDefaultBotId;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + colon, id);
  return (ec == std::errc() && ptr == token.data() + colon && id > 0) ? id : kDefaultBotId;
}

std::string update_type(const json& update) {
  for (auto it = update.begin(); it != update.end(); ++it) {
    if (it.key() != "update_id") return it.key();
  }
  return "";
}

// What a handler answers.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  bool drop = false;  // close the connection without a valid answer
};

Reply ok_reply(json result) { return {200, dump(json{{"ok", true}, {"result", std::move(result)}})}; }

Reply error_reply(int http_status, int code, const std::string& description, int retry_after = 0) {
  json body = {{"ok", false}, {"error_code", code}, {"description", description}};
  if (retry_after > 0) body["parameters"] = {{"retry_after", retry_after}};
  return {http_status, dump(body)};
}

Reply bad_request(const std::string& what) { return error_reply(400, 400, "Bad Request: " + what); }

Reply dropped() {
  Reply r;
  r.status = 0;
  r.drop = true;
  return r;
}

void write_reply(httplib::Response& res, const Reply& r) {
  if (r.drop) {
    // httplib cannot close a connection unanswered, but a body it fails to produce aborts the
    // connection after the headers: every client sees a transport error, never a response.
    res.status = 502;
    res.set_header("Connection", "close");
    res.set_content_provider(1, "text/plain", [](size_t, size_t, httplib::DataSink&) { return false; });
    return;
  }
  res.status = r.status;
  res.set_content(r.body, r.content_type);
}

std::string outage_name(FakeTelegram::Outage o) {
  switch (o) {
    case FakeTelegram::Outage::kNone: return "none";
    case FakeTelegram::Outage::kRefuse: return "refuse";
    case FakeTelegram::Outage::kHang: return "hang";
    case FakeTelegram::Outage::k502: return "502";
    case FakeTelegram::Outage::kDrop: return "drop";
  }
  return "none";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct FakeTelegram::Impl {
  struct Stored {
    SentMessage view;
    bool from_bot = true;
    int64_t from_user = 0;
    int64_t date = 0;
    int64_t edit_date = 0;
    std::string document_mime;
  };
  struct FailRule {
    std::string method;  // canonical, or "*"
    int remaining;
    int http_status;
    int error_code;
    std::string description;
    int retry_after;
  };
  struct RawRule {
    std::string method;
    int http_status;
    std::string body;
    std::string content_type;
  };
  // One Bot API call being served; `lock` holds `mu` except while the call waits.
  struct Call {
    const json& params;
    const Files& files;
    std::unique_lock<std::mutex>& lock;
    uint64_t server_gen;
  };
  using Method = Reply (Impl::*)(Call&);

  Impl(std::string bot_token, int port_wanted)
      : token(std::move(bot_token)), requested_port(port_wanted), bot_id(bot_id_from_token(token)) {}

  const std::string token;
  const int requested_port;
  const int64_t bot_id;
  const SteadyClock::time_point epoch = SteadyClock::now();

  // Lifecycle: start/stop/outage changes are serialized; handlers never take this lock.
  std::mutex lifecycle_mu;
  std::unique_ptr<httplib::Server> server;
  std::thread listener;
  // Listeners closed by kRefuse: their port is released at once, but an idle keep-alive
  // connection can hold a worker for kKeepAliveSeconds, so they are joined by stop().
  std::vector<std::pair<std::unique_ptr<httplib::Server>, std::thread>> retired;
  bool started = false;
  std::atomic<bool> control_api{false};
  std::atomic<int> port{0};

  // Everything below is guarded by `mu`.
  mutable std::mutex mu;
  std::condition_variable cv;                     // wakes long polls, hung requests and delays
  mutable std::condition_variable activity_cv;    // wakes wait_for()
  uint64_t activity = 0;                          // bumps on every recorded change
  uint64_t listen_gen = 0;                        // bumps when a listener stops; its waiters give up
  uint64_t poll_seq = 0;                          // the newest getUpdates call
  int waiting_polls = 0;
  int held_sends = 0;  // sendMessage requests a hang outage has held, ever

  std::string username = "gwr_test_bot";
  std::vector<Request> log;
  std::vector<json> updates;  // unconfirmed, ordered by update_id
  int64_t next_update_id = 1;
  int64_t confirmed_offset = 0;
  std::set<std::string> allowed_updates;  // empty: every type
  std::map<int64_t, int64_t> last_message_id;  // per chat
  std::map<std::pair<int64_t, int64_t>, Stored> messages;
  std::vector<std::pair<int64_t, int64_t>> bot_order;
  std::set<std::string> open_callbacks;
  int64_t next_callback = 1;
  json commands = json::array();
  std::vector<FailRule> fail_rules;
  std::vector<RawRule> raw_rules;
  Outage outage = Outage::kNone;
  std::chrono::milliseconds delay{0};

  static const std::map<std::string, Method>& methods() {
    static const std::map<std::string, Method> table = {
        {"getMe", &Impl::get_me},
        {"getUpdates", &Impl::get_updates},
        {"sendMessage", &Impl::send_message},
        {"sendDocument", &Impl::send_document},
        {"editMessageText", &Impl::edit_message_text},
        {"editMessageReplyMarkup", &Impl::edit_message_reply_markup},
        {"deleteMessage", &Impl::delete_message},
        {"answerCallbackQuery", &Impl::answer_callback_query},
        {"setMyCommands", &Impl::set_my_commands},
        {"getMyCommands", &Impl::get_my_commands},
        {"deleteMyCommands", &Impl::delete_my_commands},
        {"deleteWebhook", &Impl::delete_webhook},
        {"getWebhookInfo", &Impl::get_webhook_info},
        {"sendChatAction", &Impl::send_chat_action},
        {"getChat", &Impl::get_chat},
    };
    return table;
  }

  // Bot API method names are case-insensitive.
  static std::optional<std::string> canonical_method(std::string_view raw) {
    const std::string wanted = lower(raw);
    for (const auto& [name, method] : methods()) {
      if (lower(name) == wanted) return name;
    }
    return std::nullopt;
  }

  static std::string rule_method(const std::string& method) {
    if (method == "*") return method;
    return canonical_method(method).value_or(method);
  }

  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - epoch).count();
  }

  void touch() {
    ++activity;
    activity_cv.notify_all();
  }

  // --- Lifecycle --------------------------------------------------------------------------

  void start_listener(int wanted_port) {
    auto srv = std::make_unique<httplib::Server>();
    srv->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
    srv->set_keep_alive_timeout(kKeepAliveSeconds);
    srv->set_tcp_nodelay(true);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mu);
      gen = listen_gen;
    }
    install_routes(*srv, gen);

    int bound = -1;
    // Re-listening on a port just released can race the kernel briefly; retry for a second.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (wanted_port == 0) {
        bound = srv->bind_to_any_port("127.0.0.1");
        break;
      }
      if (srv->bind_to_port("127.0.0.1", wanted_port)) {
        bound = wanted_port;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (bound <= 0) {
      throw std::runtime_error("FakeTelegram: cannot bind 127.0.0.1:" + std::to_string(wanted_port));
    }

    auto finished = std::make_shared<std::atomic<bool>>(false);
    httplib::Server* raw = srv.get();
    std::thread thread([raw, finished] {
      // A client that hangs up before its answer must not kill the process with SIGPIPE:
      // block it here, and the worker threads httplib starts from here inherit the mask.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      raw->listen_after_bind();
      finished->store(true);
    });
    // stop() is a no-op until httplib marks itself running, so wait for that.
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    while (!raw->is_running() && !finished->load() && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!raw->is_running()) {
      raw->stop();
      thread.join();
      throw std::runtime_error("FakeTelegram: listener on port " + std::to_string(bound) + " did not start");
    }
    server = std::move(srv);
    listener = std::move(thread);
    port = bound;
  }

  // Closes the listening socket and wakes its waiting requests; `join` also waits for its threads.
  void stop_listener(bool join) {
    if (server) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++listen_gen;
        cv.notify_all();
        touch();
      }
      server->stop();
      retired.emplace_back(std::move(server), std::move(listener));
    }
    if (!join) return;
    for (auto& [old_server, thread] : retired) {
      if (thread.joinable()) thread.join();
    }
    retired.clear();
  }

  void install_routes(httplib::Server& srv, uint64_t gen) {
    srv.Get(".*", [this, gen](const httplib::Request& req, httplib::Response& res) {
      serve(req, res, gen, std::string(), {});
    });
    srv.Post(".*", [this, gen](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
      std::string body;
      std::vector<FormPart> parts;
      if (req.is_multipart_form_data()) {
        reader(
            [&parts](const FormPart& part) {
              parts.push_back(part);
              return true;
            },
            [&parts](const char* data, size_t len) {
              parts.back().content.append(data, len);
              return true;
            });
      } else {
        reader([&body](const char* data, size_t len) {
          body.append(data, len);
          return true;
        });
      }
      serve(req, res, gen, body, parts);
    });
  }

  // --- Serving ----------------------------------------------------------------------------

  void serve(const httplib::Request& req, httplib::Response& res, uint64_t gen, const std::string& body,
             const std::vector<FormPart>& parts) {
    if (control_api && req.path.rfind("/_fake/", 0) == 0) {
      control(req, res, body);
      return;
    }
    const auto arrived = SteadyClock::now();
    Request record;
    record.http_method = req.method;
    record.time_ms = now_ms();
    record.params = json::object();

    std::string path_token;
    std::string raw_method;
    const bool bot_path = split_bot_path(req.path, path_token, raw_method);
    const auto canonical = bot_path ? canonical_method(raw_method) : std::nullopt;
    record.method = canonical ? *canonical : (bot_path ? raw_method : req.path);

    Files files;
    std::string body_error;
    for (const auto& [key, value] : req.params) record.params[key] = value;
    const std::string content_type = lower(req.get_header_value("Content-Type"));
    if (req.is_multipart_form_data()) {
      for (const auto& part : parts) {
        if (part.filename.empty()) {
          record.params[part.name] = part.content;
        } else {
          record.params[part.name] = {
              {"file_name", part.filename}, {"size", part.content.size()}, {"content_type", part.content_type}};
          files[part.name] = part;
        }
      }
    } else if (content_type.rfind("application/x-www-form-urlencoded", 0) == 0) {
      parse_form(body, record.params);
    } else if (content_type.rfind("application/json", 0) == 0 && !body.empty()) {
      const json parsed = json::parse(body, nullptr, false);
      if (parsed.is_object()) {
        for (auto it = parsed.begin(); it != parsed.end(); ++it) record.params[it.key()] = it.value();
      } else {
        body_error = "can't parse JSON object";
      }
    }

    std::unique_lock<std::mutex> lock(mu);
    Reply reply = answer(lock, gen, arrived, bot_path, path_token, canonical, record.params, files, body_error);
    record.http_status = reply.drop ? 0 : reply.status;
    record.response = reply.drop ? std::string() : reply.body;
    record.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - arrived).count();
    log.push_back(std::move(record));
    touch();
    lock.unlock();
    write_reply(res, reply);
  }

  Reply answer(std::unique_lock<std::mutex>& lock, uint64_t gen, SteadyClock::time_point arrived, bool bot_path,
               const std::string& path_token, const std::optional<std::string>& canonical, const json& params,
               const Files& files, const std::string& body_error) {
    // The network first: an outage hides whatever the request was.
    if (listen_gen != gen) return dropped();
    switch (outage) {
      case Outage::kNone: break;
      case Outage::kRefuse:  // a keep-alive connection that outlived its listener
      case Outage::kDrop: return dropped();
      case Outage::k502: {
        Reply r{502, kBadGatewayHtml, "text/html"};
        return r;
      }
      case Outage::kHang:
        if (canonical && *canonical == "sendMessage") ++held_sends;
        cv.wait(lock, [&] { return outage != Outage::kHang || listen_gen != gen; });
        return dropped();
    }
    if (delay.count() > 0) {
      const auto until = arrived + delay;
      if (cv.wait_until(lock, until, [&] { return listen_gen != gen; })) return dropped();
    }

    if (!bot_path) return error_reply(404, 404, "Not Found");
    if (path_token != token) return error_reply(401, 401, "Unauthorized");
    if (!canonical) return error_reply(404, 404, "Not Found");
    const std::string& method = *canonical;

    for (auto it = raw_rules.begin(); it != raw_rules.end(); ++it) {
      if (it->method == "*" || it->method == method) {
        Reply r{it->http_status, it->body, it->content_type};
        raw_rules.erase(it);
        return r;
      }
    }
    for (auto it = fail_rules.begin(); it != fail_rules.end(); ++it) {
      if (it->method == "*" || it->method == method) {
        Reply r = error_reply(it->http_status, it->error_code, it->description, it->retry_after);
        if (--it->remaining <= 0) fail_rules.erase(it);
        return r;
      }
    }
    if (!body_error.empty()) return bad_request(body_error);

    Call call{params, files, lock, gen};
    return (this->*methods().at(method))(call);
  }

  // --- Messages ---------------------------------------------------------------------------

  json bot_user() const {
    return {{"id", bot_id}, {"is_bot", true}, {"first_name", "gwr"}, {"username", username}};
  }

  json message_json(const Stored& m, bool with_reply = true) const {
    json j = {{"message_id", m.view.message_id}, {"date", m.date}, {"chat", chat_json(m.view.chat_id)}};
    j["from"] = m.from_bot ? bot_user() : user_json(m.from_user);
    if (!m.view.document_name.empty()) {
      const std::string file_id = "doc" + std::to_string(m.view.chat_id) + "_" + std::to_string(m.view.message_id);
      j["document"] = {{"file_id", file_id},
                       {"file_unique_id", "u" + file_id},
                       {"file_name", m.view.document_name},
                       {"mime_type", m.document_mime.empty() ? "application/octet-stream" : m.document_mime},
                       {"file_size", m.view.document.size()}};
      if (!m.view.text.empty()) j["caption"] = m.view.text;
    } else {
      j["text"] = m.view.text;
    }
    if (m.view.markup.is_object() && m.view.markup.contains("inline_keyboard")) j["reply_markup"] = m.view.markup;
    if (m.edit_date != 0) j["edit_date"] = m.edit_date;
    if (with_reply && m.view.reply_to) {
      const auto it = messages.find({m.view.chat_id, *m.view.reply_to});
      if (it != messages.end()) j["reply_to_message"] = message_json(it->second, false);
    }
    return j;
  }

  Stored& store_bot_message(int64_t chat_id) {
    const int64_t id = ++last_message_id[chat_id];
    Stored& m = messages[{chat_id, id}];
    m.view.message_id = id;
    m.view.chat_id = chat_id;
    m.date = unix_now();
    bot_order.emplace_back(chat_id, id);
    return m;
  }

  // Remembers messages and callback ids that arrive in scripted updates, so replies,
  // edits and answers that refer to them behave as on Telegram.
  void register_incoming(const json& update) {
    if (const json* msg = find(update, "message"); msg && msg->is_object()) {
      const json* chat = find(*msg, "chat");
      const auto chat_id = chat && chat->is_object() ? int_of(*chat, "id") : std::nullopt;
      const auto id = int_of(*msg, "message_id");
      if (chat_id && id) {
        last_message_id[*chat_id] = std::max(last_message_id[*chat_id], *id);
        Stored& m = messages[{*chat_id, *id}];
        if (m.view.message_id == 0) {
          m.view.message_id = *id;
          m.view.chat_id = *chat_id;
          m.from_bot = false;
          const json* from = find(*msg, "from");
          m.from_user = from && from->is_object() ? int_of(*from, "id").value_or(0) : 0;
          m.date = int_of(*msg, "date").value_or(unix_now());
          m.view.text = m.view.raw_text = text_of(*msg, "text").value_or("");
        }
      }
    }
    if (const json* cq = find(update, "callback_query"); cq && cq->is_object()) {
      if (auto id = text_of(*cq, "id")) open_callbacks.insert(*id);
    }
  }

  json enqueue_locked(json update) {
    std::optional<int64_t> id;
    if (const json* v = find(update, "update_id")) id = to_int(*v);
    if (!id) id = next_update_id;
    update["update_id"] = *id;  // always an integer from here on
    next_update_id = std::max(next_update_id, *id + 1);
    register_incoming(update);
    const auto pos = std::upper_bound(updates.begin(), updates.end(), *id, [](int64_t value, const json& u) {
      return value < u.at("update_id").get<int64_t>();
    });
    updates.insert(pos, update);
    cv.notify_all();
    touch();
    return update;
  }

  // --- Parameter checks shared by methods --------------------------------------------------

  static std::optional<Reply> chat_param(const json& p, int64_t& chat_id) {
    const json* v = find(p, "chat_id");
    if (!v || v->is_null() || (v->is_string() && v->get_ref<const std::string&>().empty())) {
      return bad_request("chat_id is empty");
    }
    const auto id = to_int(*v);
    if (!id || *id == 0) return bad_request("chat not found");
    chat_id = *id;
    return std::nullopt;
  }

  struct CheckedText {
    std::string visible;
    std::string mode;
  };

  static std::optional<Reply> check_text(const std::string& raw, const json& p, bool caption, CheckedText& out) {
    out.mode = telegram_text::normalize_parse_mode(text_of(p, "parse_mode").value_or(""));
    if (out.mode == "?") return bad_request("unsupported parse_mode");
    if (!telegram_text::is_valid_utf8(raw)) {
      return bad_request(caption ? "caption must be encoded in UTF-8" : "text must be encoded in UTF-8");
    }
    const auto parsed = telegram_text::parse(raw, out.mode);
    if (!parsed.ok) return bad_request("can't parse entities: " + parsed.error);
    out.visible = telegram_text::trim(parsed.visible);
    if (!caption && out.visible.empty()) return bad_request("message text is empty");
    if (telegram_text::code_points(out.visible) > (caption ? kMaxCaptionLength : kMaxTextLength)) {
      return bad_request(caption ? "message caption is too long" : "message is too long");
    }
    return std::nullopt;
  }

  static std::optional<Reply> markup_param(const json& p, json& markup) {
    markup = nullptr;
    const auto m = json_of(p, "reply_markup");
    if (!m) return std::nullopt;
    if (m->is_discarded()) return bad_request("can't parse reply keyboard markup JSON object");
    const std::string error = check_markup(*m);
    if (!error.empty()) return bad_request(error);
    markup = *m;
    return std::nullopt;
  }

  static std::optional<int64_t> reply_to_param(const json& p) {
    if (auto id = int_of(p, "reply_to_message_id")) return id;
    const auto rp = json_of(p, "reply_parameters");
    if (rp && rp->is_object()) return int_of(*rp, "message_id");
    return std::nullopt;
  }

  // --- Bot API methods ----------------------------------------------------------------------

  Reply get_me(Call&) {
    json me = bot_user();
    me["can_join_groups"] = true;
    me["can_read_all_group_messages"] = false;
    me["supports_inline_queries"] = false;
    return ok_reply(me);
  }

  bool allowed(const json& update) const {
    return allowed_updates.empty() || allowed_updates.count(update_type(update)) > 0;
  }

  Reply get_updates(Call& c) {
    const int64_t offset = int_of(c.params, "offset").value_or(0);
    const int64_t limit = std::clamp<int64_t>(int_of(c.params, "limit").value_or(100), 1, 100);
    double timeout_s = 0;
    if (const json* t = find(c.params, "timeout")) timeout_s = std::clamp(to_number(*t).value_or(0.0), 0.0, 3600.0);
    if (const auto au = json_of(c.params, "allowed_updates"); au && au->is_array()) {
      allowed_updates.clear();
      for (const json& type : *au) {
        if (type.is_string()) allowed_updates.insert(type.get<std::string>());
      }
    }
    // An offset confirms every update below it; a negative one keeps only the last -offset.
    if (offset > 0) {
      updates.erase(std::remove_if(updates.begin(), updates.end(),
                                   [offset](const json& u) { return u.at("update_id").get<int64_t>() < offset; }),
                    updates.end());
      confirmed_offset = std::max(confirmed_offset, offset);
    } else if (offset < 0 && static_cast<uint64_t>(-offset) < updates.size()) {
      updates.erase(updates.begin(), updates.end() - static_cast<std::ptrdiff_t>(-offset));
    }
    // Types excluded by allowed_updates are never delivered.
    updates.erase(std::remove_if(updates.begin(), updates.end(), [this](const json& u) { return !allowed(u); }),
                  updates.end());

    const uint64_t my_poll = ++poll_seq;
    cv.notify_all();  // an older poll still waiting loses, as on Telegram
    const auto deadline =
        SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
    bool waiting = false;
    auto stop_waiting = [&] {
      if (waiting) {
        --waiting_polls;
        waiting = false;
        touch();
      }
    };
    while (true) {
      json result = json::array();
      for (const json& u : updates) {
        if (!allowed(u)) continue;
        result.push_back(u);
        if (static_cast<int64_t>(result.size()) >= limit) break;
      }
      if (!result.empty() || SteadyClock::now() >= deadline) {
        stop_waiting();
        return ok_reply(std::move(result));
      }
      if (listen_gen != c.server_gen) {
        stop_waiting();
        return dropped();
      }
      if (poll_seq != my_poll) {
        stop_waiting();
        return error_reply(409, 409, default_description(409, 0));
      }
      if (!waiting) {
        waiting = true;
        ++waiting_polls;
        touch();
      }
      cv.wait_until(c.lock, deadline);
    }
  }

  Reply send_message(Call& c) {
    int64_t chat_id = 0;
    if (auto r = chat_param(c.params, chat_id)) return *r;
    const auto raw = text_of(c.params, "text");
    if (!raw) return bad_request("message text is empty");
    CheckedText text;
    if (auto r = check_text(*raw, c.params, false, text)) return *r;
    json markup;
    if (auto r = markup_param(c.params, markup)) return *r;

    Stored& m = store_bot_message(chat_id);
    m.view.text = text.visible;
    m.view.raw_text = *raw;
    m.view.parse_mode = text.mode;
    m.view.reply_to = reply_to_param(c.params);
    m.view.markup = markup;
    m.view.disable_notification = bool_of(c.params, "disable_notification");
    return ok_reply(message_json(m));
  }

  Reply send_document(Call& c) {
    int64_t chat_id = 0;
    if (auto r = chat_param(c.params, chat_id)) return *r;
    std::string name;
    std::string content;
    std::string mime;
    if (const auto it = c.files.find("document"); it != c.files.end()) {
      name = it->second.filename;
      content = it->second.content;
      mime = it->second.content_type;
    } else if (auto ref = text_of(c.params, "document"); ref && !ref->empty()) {
      name = *ref;  // a file_id or URL
    } else {
      return bad_request("there is no document in the request");
    }
    const std::string raw = text_of(c.params, "caption").value_or("");
    CheckedText caption;
    if (auto r = check_text(raw, c.params, true, caption)) return *r;
    json markup;
    if (auto r = markup_param(c.params, markup)) return *r;

    Stored& m = store_bot_message(chat_id);
    m.view.text = caption.visible;
    m.view.raw_text = raw;
    m.view.parse_mode = caption.mode;
    m.view.reply_to = reply_to_param(c.params);
    m.view.markup = markup;
    m.view.disable_notification = bool_of(c.params, "disable_notification");
    m.view.document_name = name;
    m.view.document = content;
    m.document_mime = mime;
    return ok_reply(message_json(m));
  }

  // The bot's own message named by chat_id + message_id, or the error Telegram gives.
  std::optional<Reply> editable(const json& p, const char* missing, Stored*& out) {
    int64_t chat_id = 0;
    if (find(p, "inline_message_id")) return bad_request(missing);  // no inline messages here
    if (auto r = chat_param(p, chat_id)) return r;
    const auto id = int_of(p, "message_id");
    if (!id) return bad_request("message identifier is not specified");
    const auto it = messages.find({chat_id, *id});
    if (it == messages.end() || it->second.view.deleted) return bad_request(missing);
    if (!it->second.from_bot) return bad_request("message can't be edited");
    out = &it->second;
    return std::nullopt;
  }

  Reply edit_message_text(Call& c) {
    Stored* m = nullptr;
    if (auto r = editable(c.params, "message to edit not found", m)) return *r;
    const auto raw = text_of(c.params, "text");
    if (!raw) return bad_request("message text is empty");
    CheckedText text;
    if (auto r = check_text(*raw, c.params, false, text)) return *r;
    json markup;  // leaving reply_markup out removes the keyboard, as on Telegram
    if (auto r = markup_param(c.params, markup)) return *r;
    if (!m->view.document_name.empty()) return bad_request("there is no text in the message to edit");
    if (m->view.raw_text == *raw && m->view.text == text.visible && m->view.markup == markup) {
      return bad_request(kNotModified);
    }
    m->view.text = text.visible;
    m->view.raw_text = *raw;
    m->view.parse_mode = text.mode;
    m->view.markup = markup;
    m->view.edited = true;
    ++m->view.edits;
    m->edit_date = unix_now();
    return ok_reply(message_json(*m));
  }

  Reply edit_message_reply_markup(Call& c) {
    Stored* m = nullptr;
    if (auto r = editable(c.params, "message to edit not found", m)) return *r;
    json markup;
    if (auto r = markup_param(c.params, markup)) return *r;
    if (m->view.markup == markup) return bad_request(kNotModified);
    m->view.markup = markup;
    ++m->view.edits;
    m->edit_date = unix_now();
    return ok_reply(message_json(*m));
  }

  Reply delete_message(Call& c) {
    int64_t chat_id = 0;
    if (auto r = chat_param(c.params, chat_id)) return *r;
    const auto id = int_of(c.params, "message_id");
    if (!id) return bad_request("message identifier is not specified");
    const auto it = messages.find({chat_id, *id});
    if (it == messages.end() || it->second.view.deleted) return bad_request("message to delete not found");
    it->second.view.deleted = true;
    return ok_reply(true);
  }

  Reply answer_callback_query(Call& c) {
    const auto id = text_of(c.params, "callback_query_id");
    if (!id || open_callbacks.erase(*id) == 0) return bad_request(kQueryInvalid);
    if (const auto text = text_of(c.params, "text"); text && telegram_text::code_points(*text) > 200) {
      return bad_request("MESSAGE_TOO_LONG");
    }
    return ok_reply(true);
  }

  Reply set_my_commands(Call& c) {
    const auto list = json_of(c.params, "commands");
    if (!list) return bad_request("parameter \"commands\" is required");
    if (list->is_discarded() || !list->is_array()) return bad_request("can't parse commands JSON object");
    if (list->size() > 100) return bad_request("BOT_COMMANDS_TOO_MUCH");
    for (const json& entry : *list) {
      if (!entry.is_object()) return bad_request("can't parse BotCommand: BotCommand must be an Object");
      const json* command = find(entry, "command");
      const json* description = find(entry, "description");
      if (!command || !command->is_string() || !description || !description->is_string()) {
        return bad_request("can't parse BotCommand: fields \"command\" and \"description\" must be Strings");
      }
      const auto& name = command->get_ref<const std::string&>();
      const bool valid_name = !name.empty() && name.size() <= 32 &&
                              std::all_of(name.begin(), name.end(), [](char ch) {
                                return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
                              });
      if (!valid_name) return bad_request("BOT_COMMAND_INVALID");
      const auto& text = description->get_ref<const std::string&>();
      const size_t length = telegram_text::code_points(telegram_text::trim(text));
      if (length == 0 || length > 256) return bad_request("BOT_COMMAND_DESCRIPTION_INVALID");
    }
    commands = *list;
    return ok_reply(true);
  }

  Reply get_my_commands(Call&) { return ok_reply(commands); }

  Reply delete_my_commands(Call&) {
    commands = json::array();
    return ok_reply(true);
  }

  Reply delete_webhook(Call& c) {
    if (bool_of(c.params, "drop_pending_updates")) updates.clear();
    return {200, dump(json{{"ok", true}, {"result", true}, {"description", "Webhook is already deleted"}})};
  }

  Reply get_webhook_info(Call&) {
    return ok_reply({{"url", ""}, {"has_custom_certificate", false}, {"pending_update_count", updates.size()}});
  }

  // Any chat the bot could be in (the fake keeps no list of chats).
  Reply get_chat(Call& c) {
    int64_t chat_id = 0;
    if (auto r = chat_param(c.params, chat_id)) return *r;
    return ok_reply(json{{"id", chat_id}, {"type", chat_id < 0 ? "group" : "private"}});
  }

  Reply send_chat_action(Call& c) {
    int64_t chat_id = 0;
    if (auto r = chat_param(c.params, chat_id)) return *r;
    static const std::set<std::string> kActions = {"typing",          "upload_photo",      "record_video",
                                                   "upload_video",    "record_voice",      "upload_voice",
                                                   "upload_document", "choose_sticker",    "find_location",
                                                   "record_video_note", "upload_video_note"};
    const auto action = text_of(c.params, "action");
    if (!action || kActions.count(*action) == 0) return bad_request("wrong parameter action in request");
    return ok_reply(true);
  }

  // --- Control API (/_fake/*) ---------------------------------------------------------------

  static void control_reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
  }

  json request_json(const Request& r) const {
    return {{"method", r.method},   {"http_method", r.http_method}, {"params", r.params},
            {"http_status", r.http_status}, {"time_ms", r.time_ms}, {"duration_ms", r.duration_ms}};
  }

  static json message_view_json(const SentMessage& m) {
    json j = {{"message_id", m.message_id},
              {"chat_id", m.chat_id},
              {"text", m.text},
              {"raw_text", m.raw_text},
              {"parse_mode", m.parse_mode},
              {"reply_to", m.reply_to ? json(*m.reply_to) : json(nullptr)},
              {"markup", m.markup},
              {"edited", m.edited},
              {"edits", m.edits},
              {"deleted", m.deleted},
              {"disable_notification", m.disable_notification}};
    if (!m.document_name.empty()) {
      j["document_name"] = m.document_name;
      j["document_size"] = m.document.size();
    }
    return j;
  }

  json state_json() const {
    return {{"port", port.load()},
            {"pending_updates", updates.size()},
            {"last_confirmed_offset", confirmed_offset},
            {"active_long_polls", waiting_polls},
            {"requests", log.size()},
            {"outage", outage_name(outage)},
            {"delay_ms", delay.count()}};
  }

  void reset_locked() {
    log.clear();
    updates.clear();
    messages.clear();
    bot_order.clear();
    open_callbacks.clear();
    commands = json::array();
    fail_rules.clear();
    raw_rules.clear();
    allowed_updates.clear();
    confirmed_offset = 0;
    delay = std::chrono::milliseconds(0);
    if (outage != Outage::kRefuse) outage = Outage::kNone;  // refuse needs the lifecycle lock
    cv.notify_all();
    touch();
  }

  void control(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    const std::string what = req.path.substr(std::string("/_fake/").size());
    json in = json::object();
    if (req.method == "POST" && !body.empty()) {
      in = json::parse(body, nullptr, false);
      if (!in.is_object()) {
        control_reply(res, 400, {{"ok", false}, {"description", "body must be a JSON object"}});
        return;
      }
    }
    for (const auto& [key, value] : req.params) in[key] = value;

    try {
      std::unique_lock<std::mutex> lock(mu);
      if (req.method == "GET" && what == "requests") {
        const auto only = text_of(in, "method");
        const std::string wanted = only ? rule_method(*only) : "";
        json out = json::array();
        for (const Request& r : log) {
          if (wanted.empty() || r.method == wanted) out.push_back(request_json(r));
        }
        control_reply(res, 200, out);
      } else if (req.method == "GET" && what == "messages") {
        json out = json::array();
        for (const auto& key : bot_order) out.push_back(message_view_json(messages.at(key).view));
        control_reply(res, 200, out);
      } else if (req.method == "GET" && what == "state") {
        control_reply(res, 200, state_json());
      } else if (req.method == "POST" && what == "update") {
        json update;
        if (in.contains("chat_id")) {  // shorthand: a text message
          const int64_t chat_id = int_of(in, "chat_id").value_or(0);
          lock.unlock();
          update = push_message_impl(chat_id, int_of(in, "user_id").value_or(chat_id), text_of(in, "text").value_or(""));
        } else {
          update = enqueue_locked(in);
        }
        control_reply(res, 200, {{"ok", true}, {"result", update}});
      } else if (req.method == "POST" && what == "callback") {
        const int64_t chat_id = int_of(in, "chat_id").value_or(0);
        lock.unlock();
        const json update = push_callback_impl(chat_id, int_of(in, "user_id").value_or(chat_id),
                                               int_of(in, "message_id").value_or(0), text_of(in, "data").value_or(""));
        control_reply(res, 200, {{"ok", true}, {"result", update}});
      } else if (req.method == "POST" && what == "fail") {
        if (int_of(in, "count").value_or(1) <= 0) {
          control_reply(res, 400, {{"ok", false}, {"description", "count must be positive"}});
          return;
        }
        const int code = static_cast<int>(int_of(in, "error_code").value_or(int_of(in, "http_status").value_or(429)));
        const int retry = static_cast<int>(int_of(in, "retry_after").value_or(0));
        std::string description = text_of(in, "description").value_or("");
        if (description.empty()) description = default_description(code, retry);
        fail_rules.push_back({rule_method(text_of(in, "method").value_or("*")),
                              static_cast<int>(int_of(in, "count").value_or(1)),
                              static_cast<int>(int_of(in, "http_status").value_or(code)), code, description, retry});
        control_reply(res, 200, {{"ok", true}});
      } else if (req.method == "POST" && what == "raw") {
        raw_rules.push_back({rule_method(text_of(in, "method").value_or("*")),
                             static_cast<int>(int_of(in, "http_status").value_or(200)), text_of(in, "body").value_or(""),
                             text_of(in, "content_type").value_or("application/json")});
        control_reply(res, 200, {{"ok", true}});
      } else if (req.method == "POST" && what == "outage") {
        const std::string mode = lower(text_of(in, "mode").value_or("none"));
        // The control API needs the listener, so "refuse" drops connections instead of closing it.
        if (mode == "none") outage = Outage::kNone;
        else if (mode == "refuse" || mode == "drop") outage = Outage::kDrop;
        else if (mode == "hang") outage = Outage::kHang;
        else if (mode == "502") outage = Outage::k502;
        else {
          control_reply(res, 400, {{"ok", false}, {"description", "mode must be none, refuse, drop, hang or 502"}});
          return;
        }
        cv.notify_all();
        touch();
        control_reply(res, 200, {{"ok", true}, {"result", outage_name(outage)}});
      } else if (req.method == "POST" && what == "delay") {
        delay = std::chrono::milliseconds(std::max<int64_t>(0, int_of(in, "ms").value_or(0)));
        control_reply(res, 200, {{"ok", true}});
      } else if (req.method == "POST" && what == "clear") {
        reset_locked();
        control_reply(res, 200, {{"ok", true}});
      } else {
        control_reply(res, 404, {{"ok", false}, {"description", "unknown control endpoint " + req.method + " " + req.path}});
      }
    } catch (const std::exception& e) {
      control_reply(res, 400, {{"ok", false}, {"description", e.what()}});
    }
  }

  // --- Scripted updates ---------------------------------------------------------------------

  json push_message_impl(int64_t chat_id, int64_t user_id, std::string text) {
    std::lock_guard<std::mutex> lock(mu);
    const int64_t id = ++last_message_id[chat_id];
    json message = {{"message_id", id},
                    {"from", user_json(user_id)},
                    {"chat", chat_json(chat_id)},
                    {"date", unix_now()},
                    {"text", text}};
    if (!text.empty() && text[0] == '/') {
      const size_t end = text.find_first_of(" \t\n");
      const size_t length = telegram_text::utf16_units(text.substr(0, end));
      message["entities"] = json::array({{{"type", "bot_command"}, {"offset", 0}, {"length", length}}});
    }
    return enqueue_locked({{"message", std::move(message)}});
  }

  json push_callback_impl(int64_t chat_id, int64_t user_id, int64_t message_id, std::string data) {
    std::lock_guard<std::mutex> lock(mu);
    json message;
    const auto it = messages.find({chat_id, message_id});
    if (it != messages.end()) {
      message = message_json(it->second, false);
    } else {
      message = {{"message_id", message_id}, {"from", bot_user()}, {"chat", chat_json(chat_id)}, {"date", unix_now()},
                 {"text", ""}};
    }
    const std::string id = std::to_string(kCallbackIdBase + next_callback++);
    json query = {{"id", id},
                  {"from", user_json(user_id)},
                  {"message", std::move(message)},
                  {"chat_instance", std::to_string(chat_id < 0 ? -chat_id : chat_id) + "77"},
                  {"data", std::move(data)}};
    return enqueue_locked({{"callback_query", std::move(query)}});
  }
};

// ---------------------------------------------------------------------------------------------

std::string FakeTelegram::Request::param(const std::string& key) const {
  if (!params.is_object()) return "";
  const json* v = find(params, key.c_str());
  return v ? to_text(*v).value_or("") : "";
}

std::optional<int64_t> FakeTelegram::Request::int_param(const std::string& key) const {
  if (!params.is_object()) return std::nullopt;
  return int_of(params, key.c_str());
}

FakeTelegram::FakeTelegram(std::string token, int port) : impl_(std::make_unique<Impl>(std::move(token), port)) {}

FakeTelegram::~FakeTelegram() { stop(); }

void FakeTelegram::start() {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  if (impl_->started) return;
  const int previous = impl_->port.load();
  impl_->start_listener(previous != 0 ? previous : impl_->requested_port);
  impl_->started = true;
  if (outage() == Outage::kRefuse) impl_->stop_listener(false);
}

void FakeTelegram::stop() {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  impl_->started = false;
  impl_->stop_listener(true);
}

int FakeTelegram::port() const { return impl_->port.load(); }

std::string FakeTelegram::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

const std::string& FakeTelegram::token() const { return impl_->token; }

void FakeTelegram::set_bot_username(std::string username) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->username = std::move(username);
}

void FakeTelegram::set_control_api(bool enabled) {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  impl_->control_api = enabled;
}

std::vector<FakeTelegram::Request> FakeTelegram::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}

std::vector<FakeTelegram::Request> FakeTelegram::requests(const std::string& method) const {
  const std::string wanted = Impl::rule_method(method);
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<Request> out;
  for (const Request& r : impl_->log) {
    if (r.method == wanted) out.push_back(r);
  }
  return out;
}

std::vector<FakeTelegram::SentMessage> FakeTelegram::sent_messages() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<SentMessage> out;
  out.reserve(impl_->bot_order.size());
  for (const auto& key : impl_->bot_order) out.push_back(impl_->messages.at(key).view);
  return out;
}

nlohmann::json FakeTelegram::commands() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->commands;
}

bool FakeTelegram::wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) const {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      seen = impl_->activity;
    }
    if (predicate()) return true;
    const auto now = SteadyClock::now();
    if (now >= deadline) return false;
    // The predicate may also watch things outside the fake, so never wait blind for long.
    const auto wake = std::min(deadline, now + std::chrono::milliseconds(100));
    std::unique_lock<std::mutex> lock(impl_->mu);
    impl_->activity_cv.wait_until(lock, wake, [&] { return impl_->activity != seen; });
  }
}

bool FakeTelegram::wait_for_requests(const std::string& method, size_t count, std::chrono::milliseconds timeout) const {
  return wait_for([&] { return requests(method).size() >= count; }, timeout);
}

void FakeTelegram::clear_requests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->log.clear();
  impl_->touch();
}

void FakeTelegram::reset() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->reset_locked();
  }
  set_outage(Outage::kNone);
}

nlohmann::json FakeTelegram::push_update(nlohmann::json update) {
  if (!update.is_object()) throw std::invalid_argument("FakeTelegram::push_update: an update is a JSON object");
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->enqueue_locked(std::move(update));
}

nlohmann::json FakeTelegram::push_message(int64_t chat_id, int64_t user_id, std::string text) {
  return impl_->push_message_impl(chat_id, user_id, std::move(text));
}

nlohmann::json FakeTelegram::push_callback(int64_t chat_id, int64_t user_id, int64_t message_id, std::string data) {
  return impl_->push_callback_impl(chat_id, user_id, message_id, std::move(data));
}

void FakeTelegram::fail_next(const std::string& method, int count, int http_status, int error_code,
                             std::string description, int retry_after_seconds) {
  if (count <= 0) return;
  if (description.empty()) description = default_description(error_code, retry_after_seconds);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->fail_rules.push_back(
      {Impl::rule_method(method), count, http_status, error_code, std::move(description), retry_after_seconds});
}

void FakeTelegram::respond_raw_next(const std::string& method, int http_status, std::string body,
                                    std::string content_type) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->raw_rules.push_back({Impl::rule_method(method), http_status, std::move(body), std::move(content_type)});
}

void FakeTelegram::set_outage(Outage next) {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  Outage previous;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    previous = impl_->outage;
    impl_->outage = next;
    impl_->cv.notify_all();  // hung requests re-check
    impl_->touch();
  }
  if (!impl_->started) return;
  if (next == Outage::kRefuse && previous != Outage::kRefuse) impl_->stop_listener(false);
  if (next != Outage::kRefuse && !impl_->server) impl_->start_listener(impl_->port.load());
}

FakeTelegram::Outage FakeTelegram::outage() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->outage;
}

void FakeTelegram::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->delay = std::max(delay, std::chrono::milliseconds(0));
}

int FakeTelegram::pending_updates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<int>(impl_->updates.size());
}

int64_t FakeTelegram::last_confirmed_offset() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->confirmed_offset;
}

int FakeTelegram::held_sends() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->held_sends;
}

int FakeTelegram::active_long_polls() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->waiting_polls;
}

}  // namespace gwr::testing
