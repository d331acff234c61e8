// CURVE key files for gwr's fleet (issue #18): written by `gwrctl fleet
// keygen`, read by gwr-fleet and `gwr-supervisor --check-config`.
//
// NAME.pub holds a public key, NAME.key a secret one (mode 0600), each as
// its 40-character Z85 text on a line of its own; lines starting with '#'
// are comments. A hub authorizes a node by holding its NAME.pub in
// fleet.authorized_keys, and knows the node by that NAME.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace gwr::fleet {

inline constexpr size_t kZ85KeyLength = 40;

// Whether text is a Z85-encoded 32-byte key.
bool valid_z85_key(const std::string& text);

// Reads a key file. A secret key file readable by group or others is
// refused (like ssh's), and so is anything that is not exactly one key.
Result<std::string> read_public_key(const std::string& path);
Result<std::string> read_secret_key(const std::string& path);
// The public half of a Z85 secret key.
Result<std::string> public_of_secret(const std::string& secret_z85);

struct AuthorizedKey {
  std::string name;  // the file's name without .pub
  std::string key;   // Z85
};
// Every NAME.pub in dir, sorted by name. A file whose name is not a node
// name, or that holds no key, or a key listed twice, is an error naming it:
// a hub must not run on a half-read list.
Result<std::vector<AuthorizedKey>> read_authorized_keys(const std::string& dir);

// What --check-config and gwrctl doctor check of fleet.* beyond the
// config's own validation: the key files are there and are keys. Returns
// "" when fine (or standalone), else the key and what is wrong.
std::string check_fleet_keys(const std::string& role, const std::string& secret_key, const std::string& hub_public_key,
                             const std::string& authorized_keys);

// A new key pair as dir/NAME.pub and dir/NAME.key (0600); refuses to
// overwrite either. Returns the public key.
Result<std::string> write_key_pair(const std::string& dir, const std::string& name);

}  // namespace gwr::fleet
