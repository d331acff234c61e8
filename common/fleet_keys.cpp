#include "common/fleet_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <zmq.h>

#include "common/components.h"

namespace gwr::fleet {

namespace fs = std::filesystem;

bool valid_z85_key(const std::string& text) {
  if (text.size() != kZ85KeyLength) return false;
  std::array<uint8_t, 32> bytes{};
  return zmq_z85_decode(bytes.data(), text.c_str()) != nullptr;
}

namespace {

Result<std::string> read_key(const std::string& path, bool secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  if (st.st_size > 4096) return make_error(path + ": too large for a key file");
  if (secret && (st.st_mode & 077) != 0) {
    return make_error(path + ": a secret key must be readable by its owner only (chmod 600 " + path + ")");
  }
  std::ifstream in(path);
  if (!in) return make_error(path + ": cannot be read");
  std::string line;
  std::string key;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = 0;
    while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
    line = line.substr(b);
    if (line.empty() || line[0] == '#') continue;
    if (!key.empty()) return make_error(path + ": holds more than one key");
    key = line;
  }
  if (key.empty()) return make_error(path + ": holds no key");
  if (!valid_z85_key(key)) {
    return make_error(path + ": not a CURVE key (40 characters of Z85, as `gwrctl fleet keygen` writes)");
  }
  return key;
}

}  // namespace

Result<std::string> read_public_key(const std::string& path) { return read_key(path, false); }
Result<std::string> read_secret_key(const std::string& path) { return read_key(path, true); }

Result<std::string> public_of_secret(const std::string& secret_z85) {
  if (!valid_z85_key(secret_z85)) return make_error("not a CURVE secret key");
  char pub[kZ85KeyLength + 1] = {};
  if (zmq_curve_public(pub, secret_z85.c_str()) != 0) {
    return make_error(std::string("libzmq cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub);
}

Result<std::vector<AuthorizedKey>> read_authorized_keys(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error(dir + ": not a directory (fleet.authorized_keys)");
  std::vector<AuthorizedKey> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    if (p.extension() != ".pub") continue;
    const std::string name = p.stem().string();
    if (!valid_gateway_name(name)) {
      return make_error(p.string() + ": the file's name is the node's name, and \"" + name +
                        "\" is not one (1-12 of a-z 0-9 -)");
    }
    auto key = read_public_key(p.string());
    if (!key) return make_error(key.message());
    out.push_back({name, *key});
  }
  if (ec) return make_error(dir + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = i + 1; j < out.size(); ++j) {
      if (out[i].key == out[j].key) {
        return make_error(dir + ": " + out[i].name + ".pub and " + out[j].name +
                          ".pub hold the same key: each node needs its own");
      }
    }
  }
  return out;
}

std::string check_fleet_keys(const std::string& role, const std::string& secret_key, const std::string& hub_public_key,
                             const std::string& authorized_keys) {
  if (role != "hub" && role != "node") return "";
  if (auto k = read_secret_key(secret_key); !k) return "fleet.secret_key: " + k.message();
  if (role == "node") {
    if (auto k = read_public_key(hub_public_key); !k) return "fleet.hub_public_key: " + k.message();
    return "";
  }
  auto keys = read_authorized_keys(authorized_keys);
  if (!keys) return "fleet.authorized_keys: " + keys.message();
  if (keys->empty()) {
    return "fleet.authorized_keys: " + authorized_keys + " holds no NODE.pub: no node could connect";
  }
  return "";
}

namespace {

Status write_new(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return make_error(path + " exists: not overwritten (remove it first to make a new key)");
    return make_error(path + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return make_error(path + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  (void)::fchmod(fd, mode);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(path + ": could not be synced to disk");
  return Status::Ok();
}

}  // namespace

Result<std::string> write_key_pair(const std::string& dir, const std::string& name) {
  if (!valid_gateway_name(name)) return make_error("\"" + name + "\" is not a node name (1-12 of a-z 0-9 -)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(dir + ": " + ec.message());
  char pub[kZ85KeyLength + 1] = {};
  char sec[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return make_error(std::string("libzmq cannot make CURVE keys: ") + zmq_strerror(zmq_errno()));
  }
  const std::string pub_path = (fs::path(dir) / (name + ".pub")).string();
  const std::string key_path = (fs::path(dir) / (name + ".key")).string();
  if (fs::exists(pub_path, ec) || fs::exists(key_path, ec)) {
    return make_error((fs::exists(pub_path, ec) ? pub_path : key_path) +
                      " exists: not overwritten (remove it first to make a new key)");
  }
  if (auto st = write_new(key_path, "# gwr fleet SECRET key of " + name + ": keep it on that host only\n" +
                                        std::string(sec) + "\n",
                          0600);
      !st) {
    return make_error(st.message());
  }
  if (auto st = write_new(pub_path, "# gwr fleet public key of " + name + "\n" + std::string(pub) + "\n", 0644); !st) {
    ::unlink(key_path.c_str());
    return make_error(st.message());
  }
  std::memset(sec, 0, sizeof sec);
  return std::string(pub);
}

}  // namespace gwr::fleet
