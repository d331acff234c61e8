// A small RAII layer over SQLite for the repairer's history and the
// Telegram bridge's outbox: one connection per thread, prepared statements,
// transactions, and errors as Results.
#pragma once

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
  void reset();

  int64_t int64(int col) const;
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
  // survive power loss. A file that is not a database is moved aside.
  static Result<std::unique_ptr<Database>> open(const std::string& path);
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

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Status commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace gwr
