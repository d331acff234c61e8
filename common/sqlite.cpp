#include "common/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/log.h"
#include "common/text.h"

namespace gwr {

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_), last_rc_(other.last_rc_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    last_rc_ = other.last_rc_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int pos, int64_t value) {
  sqlite3_bind_int64(stmt_, pos, value);
  return *this;
}

Statement& Statement::bind(int pos, const std::string& value) {
  sqlite3_bind_text(stmt_, pos, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int pos, const std::string& bytes) {
  sqlite3_bind_blob(stmt_, pos, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int pos) {
  sqlite3_bind_null(stmt_, pos);
  return *this;
}

bool Statement::step() {
  last_rc_ = sqlite3_step(stmt_);
  return last_rc_ == SQLITE_ROW;
}

Status Statement::run() {
  while (step()) {
  }
  if (last_rc_ != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status Statement::status() const {
  if (last_rc_ == SQLITE_DONE || last_rc_ == SQLITE_ROW || last_rc_ == 0) return Status::Ok();
  return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_) + " (" + sqlite3_errstr(last_rc_) + ")");
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  // A row written by an older gwr may hold any bytes; what gwr reads is UTF-8.
  return p ? valid_utf8(std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))))
           : "";
}

std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

namespace {

struct RawOpen {
  sqlite3* db = nullptr;
  std::string error;
  bool corrupt = false;  // the file is damaged: move it aside
};

bool is_corruption(int rc) {
  const int primary = rc & 0xFF;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

RawOpen open_raw(const std::string& path, std::chrono::milliseconds busy_timeout) {
  RawOpen out;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  auto fail = [&](const std::string& what) {
    out.error = what + " " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory") + " (" +
                sqlite3_errstr(rc) + ")";
    out.corrupt = is_corruption(rc);
    if (db) sqlite3_close(db);
    return out;
  };
  if (rc != SQLITE_OK) return fail("cannot open");
  sqlite3_extended_result_codes(db, 1);
  // Until the file has passed its check, closing must not checkpoint the
  // -wal into it or delete the -wal (SQLite would, even beside a file that
  // is no database at all): a damaged database goes aside whole.
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    rc = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail("cannot set up");
  }
  // Check it really is a sound database before trusting it: quick_check
  // answers one row "ok", or rows that describe the damage.
  sqlite3_stmt* check = nullptr;
  rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &check, nullptr);
  if (rc != SQLITE_OK) return fail("cannot check");
  std::string problems;
  while ((rc = sqlite3_step(check)) == SQLITE_ROW) {
    const auto* row = sqlite3_column_text(check, 0);
    const std::string text = row ? reinterpret_cast<const char*>(row) : "";
    if (text != "ok" && problems.size() < 500) problems += (problems.empty() ? "" : "; ") + text;
  }
  sqlite3_finalize(check);
  if (rc != SQLITE_DONE) return fail("cannot check");
  if (!problems.empty()) {
    sqlite3_close(db);
    out.error = "integrity check of " + path + " failed: " + problems;
    out.corrupt = true;
    return out;
  }
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  ::chmod(path.c_str(), 0600);
  out.db = db;
  return out;
}


// Renames the database and its -wal and -shm aside, keeping all three for a
// human (the -wal may hold committed transactions).
std::string move_aside(const std::string& path) {
  const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string aside = path + ".corrupt-" + std::to_string(stamp);
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (std::filesystem::exists(path + suffix, ec)) std::filesystem::rename(path + suffix, aside + suffix, ec);
  }
  return aside;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::string& path, std::chrono::milliseconds busy_timeout) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  // (The file is only ever opened through SQLite: opening and closing it any
  // other way would drop the POSIX locks this process's other connections
  // hold on it, and SQLite would then delete a -wal still in use.)
  auto raw = open_raw(path, busy_timeout);
  if (raw.db == nullptr && raw.corrupt) {
    // Keep the damaged files for a human, start a fresh one: gwr must run.
    const std::string aside = move_aside(path);
    log::error("database_moved_aside", {{"path", path}, {"moved_to", aside}, {"error", raw.error}});
    raw = open_raw(path, busy_timeout);
  }
  if (raw.db == nullptr) return make_error(raw.error);
  return std::unique_ptr<Database>(new Database(raw.db, path));
}

Result<std::unique_ptr<Database>> Database::open_read_only(const std::string& path, bool live) {
  std::string last_error = "no such file";
  std::vector<std::string> uris = {"file:" + path + "?mode=ro"};
  if (!live) uris.push_back("file:" + path + "?immutable=1");
  for (const std::string& uri : uris) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc == SQLITE_OK && sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 250);
      return std::unique_ptr<Database>(new Database(db, path));
    }
    last_error = db ? sqlite3_errmsg(db) : "out of memory";
    if (db) sqlite3_close(db);
  }
  return make_error("cannot read " + path + ": " + last_error);
}

Database::~Database() { sqlite3_close_v2(db_); }

Status Database::exec(const std::string& sql) {
  char* errmsg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &errmsg) != SQLITE_OK) {
    std::string err = errmsg ? errmsg : "unknown";
    sqlite3_free(errmsg);
    return make_error("sqlite: " + err);
  }
  return Status::Ok();
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return make_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  return Statement(db_, stmt);
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

std::string Database::error() const { return sqlite3_errmsg(db_); }

Transaction::Transaction(Database& db) : db_(db), begun_(db_.exec("BEGIN IMMEDIATE")) {
  done_ = !begun_.ok();
}

Transaction::~Transaction() {
  if (!done_) (void)db_.exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!begun_.ok()) return make_error("transaction not begun: " + begun_.message());
  done_ = true;
  auto st = db_.exec("COMMIT");
  // A COMMIT that failed (full disk) may leave the transaction open: end it,
  // so that nothing of it is written later by accident.
  if (!st.ok()) (void)db_.exec("ROLLBACK");
  return st;
}

}  // namespace gwr
