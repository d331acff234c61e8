// A small RAII layer over SQLite for the repairer's history and the
// Telegram bridge's outbox: one connection per thread, prepared statements,
// transactions, and errors as Results.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gwr {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // 1-based positions, as SQLite numbers them.
  Statement& bind(int pos, int64_t value);
  Statement& bind(int pos, const std::string& value);
  Statement& bind_blob(int pos, const std::string& bytes);
  Statement& bind_null(int pos);
  // True while a row is available; false when done. Errors abort the process
  // only if the database is unusable; otherwise they are reported by run().
  bool step();
  // Runs to completion; the error says what failed.
  Status run();
  // After step() returned false: whether that was the end of the rows (ok)
  // or an error (busy, I/O, corruption), which must not pass for "no rows".
  Status status() const;
  void reset();

  int64_t int64(int col) const;
  // Valid UTF-8 whatever the row holds (invalid bytes become U+FFFD).
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int last_rc_ = 0;
};

class Database {
 public:
  // Opens (creating) the file in WAL mode with full fsync: the history must
  // survive power loss. Only a file that really is damaged (SQLITE_CORRUPT,
  // SQLITE_NOTADB, or a failed quick_check) is moved aside, together with
  // its -wal and -shm (renamed, never deleted), and a fresh one started.
  // Anything else — a lock held past the busy timeout, EACCES, EMFILE, a
  // full disk — is an error for the caller to retry: what was committed
  // stays where it is.
  // busy_timeout: how long a statement waits for another connection's lock
  // (a caller on a thread that must stay responsive wants it short).
  static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));
  // Opens an existing database read-only, for a last look when it cannot be
  // opened for writing (a full disk): with its -wal if there is one, else as
  // the main file alone. Never creates, moves or changes anything.
  // live: another program is writing it (its WAL matters), so never fall
  // back on reading the main file alone.
  static Result<std::unique_ptr<Database>> open_read_only(const std::string& path, bool live = false);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  int64_t last_insert_id() const;
  std::string error() const;
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed. A BEGIN that
// failed (busy, full, read-only) is reported by ok()/begin_status() and
// commit() then fails too: nothing is half-written and callers keep their
// in-memory state as it was.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const { return begun_.ok(); }
  const Status& begin_status() const { return begun_; }
  Status commit();

 private:
  Database& db_;
  Status begun_;
  bool done_ = false;
};

}  // namespace gwr
