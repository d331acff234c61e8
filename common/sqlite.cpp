#include "common/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "common/log.h"

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

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}

std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

namespace {

Result<sqlite3*> open_raw(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "out of memory";
    if (db) sqlite3_close(db);
    return make_error("cannot open " + path + ": " + err);
  }
  sqlite3_busy_timeout(db, 5000);
  // Check it really is a database before trusting it.
  char* errmsg = nullptr;
  const int check = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA quick_check;", nullptr,
                                 nullptr, &errmsg);
  if (check != SQLITE_OK) {
    std::string err = errmsg ? errmsg : "unknown";
    sqlite3_free(errmsg);
    sqlite3_close(db);
    return make_error("unusable database " + path + ": " + err);
  }
  ::chmod(path.c_str(), 0600);
  return db;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  auto db = open_raw(path);
  if (!db) {
    // Keep the damaged file for a human, start a fresh one: gwr must run.
    const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string aside = path + ".corrupt-" + std::to_string(stamp);
    std::filesystem::rename(path, aside, ec);
    std::filesystem::remove(path + "-wal", ec);
    std::filesystem::remove(path + "-shm", ec);
    log::error("database_moved_aside", {{"path", path}, {"moved_to", aside}, {"error", db.message()}});
    db = open_raw(path);
    if (!db) return db.error();
  }
  return std::unique_ptr<Database>(new Database(*db, path));
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

Transaction::Transaction(Database& db) : db_(db) { (void)db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) (void)db_.exec("ROLLBACK");
}

Status Transaction::commit() {
  done_ = true;
  return db_.exec("COMMIT");
}

}  // namespace gwr
