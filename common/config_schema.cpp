#include "common/config_schema.h"

#include <algorithm>
#include <map>

#include "common/text.h"

namespace gwr {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

namespace {

void collect(const Descriptor* d, const std::string& prefix, std::vector<KeyInfo>& out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name(f->name());  // a std::string before protobuf 31, a string_view since
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      collect(f->message_type(), key, out);
      continue;
    }
    KeyInfo k;
    k.key = key;
    k.field = f;
    k.spec = &f->options().GetExtension(pb::key);
    k.secret = f->options().GetExtension(pb::secret);
    k.duration = f->options().GetExtension(pb::duration);
    k.runtime_settable = f->options().GetExtension(pb::runtime_settable);
    out.push_back(std::move(k));
  }
}

// An empty value of the key's type, as YAML.
std::string empty_value(const KeyInfo& k) {
  if (k.field->is_repeated()) return "[]";
  switch (k.field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: return "\"\"";
    case FieldDescriptor::CPPTYPE_BOOL: return "false";
    default: return k.duration ? "0s" : "0";
  }
}

// A list item needs quotes in YAML flow style unless it is plain.
std::string list_item(const std::string& item) {
  const bool plain = !item.empty() && std::all_of(item.begin(), item.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/' || c == '*';
  }) && item[0] != '*' && item[0] != '-';
  return plain || item.rfind("--", 0) == 0 ? item : yaml_double_quoted(item);
}

}  // namespace

std::vector<std::string> choice_list(const pb::KeySpec& spec) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : spec.choices() + "|") {
    if (c == '|') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

std::vector<std::string> split_list_text(std::string text) {
  if (!text.empty() && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    const auto b = cur.find_first_not_of(' ');
    const auto e = cur.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char c : text) {
    if (c == ',') {
      flush();
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

namespace {

std::string default_yaml(const KeyInfo& k) {
  const std::string& d = k.spec->default_();
  if (d.empty()) return empty_value(k);
  if (k.field->is_repeated()) {
    std::string out = "[";
    const auto items = split_list_text(d);
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + list_item(items[i]);
    return out + "]";
  }
  if (k.field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) return yaml_double_quoted(d);
  return d;
}

std::string comment(const KeyInfo& k) {
  std::string c;
  if (k.runtime_settable) c += "[runtime] ";
  c += k.spec->doc();
  if (!k.spec->unit().empty()) c += " (" + k.spec->unit() + ")";
  if (!k.spec->env().empty()) {
    c += "; env " + k.spec->env();
    if (!k.spec->env_unit().empty()) {
      c.append(" (a bare number is in ").append(k.spec->env_unit() == "m" ? "minutes" : "seconds").append(")");
    }
  }
  if (k.spec->reload() == pb::RELOAD_RESTART_GWR) c += "; applies after a restart of gwr";
  if (k.spec->reload() == pb::RELOAD_RESTART_WORKER) c += "; a change " + k.reload_text();
  return c;
}

std::string padded(const std::string& line, const std::string& note) {
  std::string out = line;
  if (out.size() < 31) {
    out.append(31 - out.size(), ' ');
  } else {
    out += "  ";
  }
  return out + "# " + note + "\n";
}

void emit(const Descriptor* d, const std::string& prefix, int depth, std::string& out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  std::vector<const FieldDescriptor*> sections;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      sections.push_back(f);
      continue;
    }
    const std::string name(f->name());
    const KeyInfo* k = key_info(prefix + name);
    if (k->spec->platform().empty()) {
      out += padded(indent + name + ": " + default_yaml(*k), comment(*k));
    } else {
      // The default depends on the machine: shown, not set.
      out += padded(indent + "# " + name + ":", comment(*k) + ". Default: " + k->spec->platform());
    }
  }
  for (const auto* f : sections) {
    const std::string name(f->name());
    if (depth == 0) out += "\n";
    out += indent + name + ":\n";
    emit(f->message_type(), prefix + name + ".", depth + 1, out);
  }
}

}  // namespace

std::string KeyInfo::type() const {
  std::string t;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: t = "text"; break;
    case FieldDescriptor::CPPTYPE_BOOL: t = "true/false"; break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: t = "number"; break;
    default: t = duration ? "duration" : "integer"; break;
  }
  if (field->is_repeated()) return "list of " + (t == "integer" ? std::string("integers") : t);
  return t;
}

std::string KeyInfo::reload_text() const {
  switch (spec->reload()) {
    case pb::RELOAD_LIVE: return "live";
    case pb::RELOAD_RESTART_GWR: return "after a restart of gwr";
    case pb::RELOAD_RESTART_WORKER: {
      std::string who;
      for (int i = 0; i < spec->restarts_size(); ++i) who += (i ? " and the " : "the ") + spec->restarts(i);
      return "restarts " + who;
    }
    default: return "undeclared";
  }
}

const std::vector<KeyInfo>& config_schema() {
  static const std::vector<KeyInfo> schema = [] {
    std::vector<KeyInfo> out;
    collect(pb::Config::descriptor(), "", out);
    return out;
  }();
  return schema;
}

const KeyInfo* key_info(const std::string& key) {
  static const std::map<std::string, const KeyInfo*> by_key = [] {
    std::map<std::string, const KeyInfo*> m;
    for (const auto& k : config_schema()) m[k.key] = &k;
    return m;
  }();
  auto it = by_key.find(key);
  return it == by_key.end() ? nullptr : it->second;
}

bool restarts_worker(const std::vector<std::string>& changed, const std::string& worker) {
  for (const auto& key : changed) {
    const KeyInfo* k = key_info(key);
    if (k == nullptr || k->spec->reload() != pb::RELOAD_RESTART_WORKER) continue;
    const auto& who = k->spec->restarts();
    if (std::find(who.begin(), who.end(), worker) != who.end()) return true;
  }
  return false;
}

std::vector<std::string> keys_needing_restart(const std::vector<std::string>& changed) {
  std::vector<std::string> out;
  for (const auto& key : changed) {
    const KeyInfo* k = key_info(key);
    if (k != nullptr && k->spec->reload() == pb::RELOAD_RESTART_GWR) out.push_back(key);
  }
  return out;
}

nlohmann::json config_keys_json() {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : config_schema()) {
    const auto& s = *k.spec;
    nlohmann::json j = {{"key", k.key},
                        {"type", k.type()},
                        {"doc", s.doc()},
                        {"default", s.platform().empty() ? nlohmann::json(default_yaml(k)) : nlohmann::json(nullptr)},
                        {"runtime_settable", k.runtime_settable},
                        {"secret", k.secret},
                        {"reload", k.reload_text()}};
    if (!s.platform().empty()) j["platform_default"] = s.platform();
    if (!s.min().empty()) j["min"] = s.min();
    if (!s.max().empty()) j["max"] = s.max();
    if (!s.unit().empty()) j["unit"] = s.unit();
    if (!s.env().empty()) j["env"] = s.env();
    if (!s.choices().empty()) j["choices"] = choice_list(s);
    if (s.path()) j["path"] = true;
    if (!s.restarts().empty()) j["restarts"] = std::vector<std::string>(s.restarts().begin(), s.restarts().end());
    arr.push_back(std::move(j));
  }
  return arr;
}

std::string render_example_config() {
  std::string out =
      "# gwr — OpenClaw Gateway Repairer: configuration reference.\n"
      "#\n"
      "# GENERATED from proto/gwr.proto (each key's one declaration) by `gwrctl config example`;\n"
      "# edit the declaration, not this file (a test fails when they differ).\n"
      "#\n"
      "# Every key is shown with its built-in default. All keys are optional: gwr runs\n"
      "# on these defaults without any file. Copy this to ~/.config/gwr/gwr.yaml (user\n"
      "# service) or /etc/gwr/gwr.yaml (system service), keep what you change.\n"
      "#\n"
      "# Precedence (later wins): built-in defaults < this file < .env beside it\n"
      "# (or --env-file) < process environment < run-time overrides made with\n"
      "# `gwrctl config set` / Telegram `/config set` (stored in\n"
      "# <paths.state_dir>/config-overrides.yaml; `gwrctl config reset KEY` drops one).\n"
      "#\n"
      "# Durations are strings: \"250ms\", \"10s\", \"30m\", \"1h\", \"90d\". Lists are argv or globs,\n"
      "# never run through a shell. \"~/\" at the start of a path means your home.\n"
      "# [runtime]: may be changed while gwr runs (gwrctl config set, Telegram /config set).\n"
      "# `gwrctl config keys` lists the same keys, with their limits and what a change needs.\n";
  emit(pb::Config::descriptor(), "", 0, out);
  out +=
      "\n"
      "# Several gateways on this host (e.g. OpenClaw's \"rescue bot\", openclaw --profile rescue):\n"
      "# instead of gateway:, a list. Each entry has a name (1-12 of a-z 0-9 -), any key of\n"
      "# gateway:, and may override probes: and repair: for that gateway alone. Each gets its own\n"
      "# prober and repairer, limits, history and logs; main keeps a one-gateway gwr's files.\n"
      "# Ports and state_dirs must differ. The list changes with a restart of gwr.\n"
      "# gateways:\n"
      "#   - name: main\n"
      "#     port: 18789\n"
      "#   - name: rescue\n"
      "#     port: 19789\n"
      "#     state_dir: ~/.openclaw-rescue\n"
      "#     service: openclaw-gateway-rescue.service\n"
      "#     commands:\n"
      "#       restart: [openclaw, --profile, rescue, gateway, restart, --force]\n"
      "#       stop: [openclaw, --profile, rescue, gateway, stop, --force]\n"
      "#       start: [openclaw, --profile, rescue, gateway, start]\n"
      "#       doctor: [openclaw, --profile, rescue, doctor, --fix, --non-interactive]\n"
      "#       call: [openclaw, --profile, rescue, gateway, call]\n"
      "#     repair: {max_per_hour: 1}\n";
  return out;
}

}  // namespace gwr
