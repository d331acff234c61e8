// FakeTelegram: a real HTTP server on 127.0.0.1 that speaks enough of the Telegram
// Bot API for gwr's telegram-bridge, so tests and benchmarks never contact
// api.telegram.org. It records every call, lets a test script updates (messages,
// button presses), failures (429 with retry_after, garbage bodies) and outages
// (refused, hung, 502), and validates text the way Telegram does where that is cheap.
//
// Point gwr at base_url(); it appends "/bot<token>/<method>" like the real API.
// Every public method is safe to call from the test thread while the server runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gwr::testing {

class FakeTelegram {
 public:
  // One HTTP request to the Bot API as the fake saw it.
  struct Request {
    std::string method;       // canonical name ("sendMessage"); the raw path segment when unknown
    std::string http_method;  // "GET" or "POST"
    nlohmann::json params;    // query + form + multipart + JSON body, merged; form values stay strings
    int http_status = 0;      // 0: never answered (hang, refused mid-connection, stopped)
    int64_t time_ms = 0;      // arrival, in ms since the fake was constructed
    int64_t duration_ms = 0;  // from arrival to answer
    std::string response;     // the body sent back

    // A parameter as text whatever its JSON type ("" when absent).
    std::string param(const std::string& key) const;
    // A parameter as an integer, from a JSON number or a decimal string.
    std::optional<int64_t> int_param(const std::string& key) const;
  };

  // A bot message as the chat shows it now (after edits).
  struct SentMessage {
    int64_t message_id = 0;
    int64_t chat_id = 0;
    std::string text;        // visible text: markup removed, entities decoded (caption for documents)
    std::string raw_text;    // text exactly as sent, with its markup
    std::string parse_mode;  // "", "HTML", "MarkdownV2" or "Markdown"
    std::optional<int64_t> reply_to;
    nlohmann::json markup;   // reply_markup object; null when there is none
    bool edited = false;     // editMessageText changed it
    int edits = 0;           // successful editMessageText/editMessageReplyMarkup calls
    bool deleted = false;    // deleteMessage removed it
    bool disable_notification = false;
    std::string document_name;  // sendDocument only: the file name
    std::string document;       // sendDocument only: the uploaded bytes
  };

  // Network conditions between gwr and "Telegram".
  enum class Outage {
    kNone,    // answer normally
    kRefuse,  // stop listening: connects are refused; listening resumes on the same port when cleared
    kHang,    // accept and read, never answer until cleared (then the connection is dropped) or stop()
    k502,     // answer 502 Bad Gateway with an nginx-style HTML body
    kDrop,    // accept, then close the connection without a valid answer (needs no port change)
  };

  explicit FakeTelegram(std::string token, int port = 0);  // port 0: any free port
  ~FakeTelegram();                                         // stops
  FakeTelegram(const FakeTelegram&) = delete;
  FakeTelegram& operator=(const FakeTelegram&) = delete;

  // Binds 127.0.0.1 and serves on background threads; throws std::runtime_error if it cannot bind.
  // After stop(), start() binds the same port again.
  void start();
  // Stops listening, wakes every waiting request (they are dropped unanswered) and joins the threads.
  void stop();
  int port() const;              // the bound port (0 before the first start)
  std::string base_url() const;  // "http://127.0.0.1:PORT"
  const std::string& token() const;

  // getMe's username (default "gwr_test_bot").
  void set_bot_username(std::string username);
  // Serves the /_fake/* control API (see README.md) on the same port; call before start().
  void set_control_api(bool enabled);

  // --- What gwr did -------------------------------------------------------------------------
  std::vector<Request> requests() const;  // in order of answer
  std::vector<Request> requests(const std::string& method) const;  // method matched case-insensitively
  std::vector<SentMessage> sent_messages() const;  // successful sendMessage/sendDocument, in send order
  nlohmann::json commands() const;                 // the last setMyCommands list ([] when none)
  // Evaluates `predicate` whenever the fake records something (and at least every 100 ms)
  // until it holds or `timeout` passes; returns its last value.
  bool wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) const;
  // Waits until at least `count` answered requests of `method` were recorded.
  bool wait_for_requests(const std::string& method, size_t count, std::chrono::milliseconds timeout) const;
  void clear_requests();
  // Forgets requests, messages, pending updates, commands and scripted failures; clears the
  // outage and the delay. Counters (update_id, message_id) keep increasing.
  void reset();

  // --- What "Telegram" does -----------------------------------------------------------------
  // Queues an update; assigns the next update_id when it has none. Returns the queued update.
  nlohmann::json push_update(nlohmann::json update);
  // A text message from `user_id` in `chat_id` (private when chat_id > 0, else a group);
  // '/'-commands carry a bot_command entity. Returns the queued update.
  nlohmann::json push_message(int64_t chat_id, int64_t user_id, std::string text);
  // `user_id` pressing an inline button with callback `data` under bot message `message_id`.
  // Returns the queued update; its callback_query.id is what answerCallbackQuery must name.
  nlohmann::json push_callback(int64_t chat_id, int64_t user_id, int64_t message_id, std::string data);

  // The next `count` calls of `method` ("*" = any) fail with this Telegram error;
  // parameters.retry_after is included when retry_after_seconds > 0. An empty
  // description gets Telegram's usual one for the code.
  void fail_next(const std::string& method, int count, int http_status, int error_code, std::string description,
                 int retry_after_seconds = 0);
  // The next call of `method` ("*" = any) is answered with exactly this status and body.
  void respond_raw_next(const std::string& method, int http_status, std::string body,
                        std::string content_type = "application/json");
  void set_outage(Outage outage);
  Outage outage() const;
  // Latency added before every Bot API answer.
  void set_delay(std::chrono::milliseconds delay);
  void set_delay(int ms) { set_delay(std::chrono::milliseconds(ms)); }

  // --- Counters ----------------------------------------------------------------------------
  int pending_updates() const;            // queued and not yet confirmed by an offset
  int64_t last_confirmed_offset() const;  // the highest positive getUpdates offset seen (0: none)
  int active_long_polls() const;          // getUpdates calls waiting for an update right now
  int held_sends() const;                 // sendMessage requests a hang outage has held (ever; never dropped by reset)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gwr::testing
