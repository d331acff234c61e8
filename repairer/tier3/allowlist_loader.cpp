#include "repairer/tier3/allowlist_loader.h"

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"  // yaml-cpp 0.7 iterators (see common/config.cpp)
#endif

namespace gwr::tier3 {

Result<Allowlist> parse_allowlist(const std::string& yaml_text, const std::string& source) {
  Allowlist out;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return make_error(source + " line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return make_error(source + ": expected a mapping with allowed_commands");
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key != "version" && key != "allowed_commands") {
      return make_error(source + " line " + std::to_string(it->first.Mark().line + 1) + ": unknown key \"" + key + "\"");
    }
  }
  if (root["version"] && root["version"].Scalar() != "1") {
    return make_error(source + ": unsupported version " + root["version"].Scalar());
  }
  const auto list = root["allowed_commands"];
  if (!list || !list.IsSequence()) return make_error(source + ": allowed_commands must be a list");
  for (const auto& item : list) {
    const std::string where = source + " line " + std::to_string(item.Mark().line + 1);
    if (!item.IsMap() || !item["command"] || !item["action"] || !item["command"].IsScalar() ||
        !item["action"].IsScalar()) {
      return make_error(where + ": each entry needs a command and an action");
    }
    ActionKind kind;
    if (!parse_action_kind(item["action"].Scalar(), kind)) {
      return make_error(where + ": unknown action \"" + item["action"].Scalar() + "\"");
    }
    std::string error;
    if (!out.add(item["command"].Scalar(), kind, &error)) return make_error(where + ": " + error);
  }
  if (out.empty()) return make_error(source + ": the allowlist is empty");
  return out;
}

Result<Allowlist> load_allowlist(const std::string& path) {
  if (path.empty()) return parse_allowlist(builtin_allowlist_yaml(), "built-in allowlist");
  std::ifstream f(path);
  if (!f) return make_error("cannot read allowlist " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_allowlist(ss.str(), path);
}

}  // namespace gwr::tier3
