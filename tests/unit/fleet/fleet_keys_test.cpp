// Fleet key files: what `gwrctl fleet keygen` writes, and what a hub and a
// node refuse to read.
#include "common/fleet_keys.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::fleet {
namespace {

namespace fs = std::filesystem;

void write(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

TEST(FleetKeysTest, KeygenWritesAPairThatReadsBackAndNeverOverwrites) {
  testing::TempDir dir;
  auto pub = write_key_pair(dir.path() + "/keys", "web1");
  ASSERT_TRUE(pub) << pub.message();
  EXPECT_TRUE(valid_z85_key(*pub));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/keys/web1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto secret = read_secret_key(dir.path() + "/keys/web1.key");
  ASSERT_TRUE(secret) << secret.message();
  EXPECT_EQ(public_of_secret(*secret).value(), *pub);
  EXPECT_EQ(read_public_key(dir.path() + "/keys/web1.pub").value(), *pub);
  auto again = write_key_pair(dir.path() + "/keys", "web1");
  ASSERT_FALSE(again);
  EXPECT_NE(again.message().find("not overwritten"), std::string::npos);
  EXPECT_EQ(read_public_key(dir.path() + "/keys/web1.pub").value(), *pub);
  EXPECT_FALSE(write_key_pair(dir.path(), "Web 1"));
  EXPECT_FALSE(write_key_pair(dir.path(), "../etc"));
}

TEST(FleetKeysTest, ASecretKeyOthersCanReadOrAFileThatIsNotOneKeyIsRefused) {
  testing::TempDir dir;
  auto pub = write_key_pair(dir.path(), "n1");
  ASSERT_TRUE(pub);
  ::chmod((dir.path() + "/n1.key").c_str(), 0644);
  auto r = read_secret_key(dir.path() + "/n1.key");
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("chmod 600"), std::string::npos);
  write(dir.path() + "/two.pub", *pub + "\n" + *pub + "\n");
  EXPECT_FALSE(read_public_key(dir.path() + "/two.pub"));
  write(dir.path() + "/none.pub", "# only a comment\n\n");
  EXPECT_FALSE(read_public_key(dir.path() + "/none.pub"));
  write(dir.path() + "/short.pub", pub->substr(0, 39) + "\n");
  EXPECT_FALSE(read_public_key(dir.path() + "/short.pub"));
  std::string not_z85(40, '"');
  not_z85.push_back('\n');
  write(dir.path() + "/bad.pub", not_z85);
  EXPECT_FALSE(read_public_key(dir.path() + "/bad.pub"));
  write(dir.path() + "/crlf.pub", "# c\r\n  " + *pub + "  \r\n");
  EXPECT_EQ(read_public_key(dir.path() + "/crlf.pub").value(), *pub);
  EXPECT_FALSE(read_public_key(dir.path() + "/missing.pub"));
  EXPECT_FALSE(read_public_key(dir.path()));
}

TEST(FleetKeysTest, AuthorizedKeysAreNamedByTheirFilesAndABadOneStopsTheWholeList) {
  testing::TempDir dir;
  const std::string keys = dir.path() + "/k";
  const std::string auth = dir.path() + "/auth";
  fs::create_directories(auth);
  auto a = write_key_pair(keys, "web1");
  auto b = write_key_pair(keys, "web2");
  ASSERT_TRUE(a && b);
  fs::copy_file(keys + "/web1.pub", auth + "/web1.pub");
  fs::copy_file(keys + "/web2.pub", auth + "/web2.pub");
  write(auth + "/README", "not a key, not a .pub: ignored");
  auto list = read_authorized_keys(auth);
  ASSERT_TRUE(list) << list.message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "web1");
  EXPECT_EQ((*list)[0].key, *a);
  EXPECT_EQ((*list)[1].name, "web2");
  EXPECT_EQ(check_fleet_keys("hub", keys + "/web1.key", "", auth), "");
  EXPECT_EQ(check_fleet_keys("node", keys + "/web1.key", keys + "/web2.pub", ""), "");
  EXPECT_EQ(check_fleet_keys("standalone", "", "", ""), "");
  EXPECT_NE(check_fleet_keys("node", keys + "/web1.key", keys + "/nope.pub", ""), "");

  fs::copy_file(keys + "/web1.pub", auth + "/copy.pub");  // one key under two names
  auto dup = read_authorized_keys(auth);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.message().find("same key"), std::string::npos);
  fs::remove(auth + "/copy.pub");
  fs::copy_file(keys + "/web1.pub", auth + "/Bad_Name.pub");
  EXPECT_FALSE(read_authorized_keys(auth));
  fs::remove(auth + "/Bad_Name.pub");
  write(auth + "/web3.pub", "garbage\n");
  auto bad = read_authorized_keys(auth);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("web3.pub"), std::string::npos);
  fs::remove(auth + "/web3.pub");
  fs::remove(auth + "/web1.pub");
  fs::remove(auth + "/web2.pub");
  EXPECT_NE(check_fleet_keys("hub", keys + "/web1.key", "", auth).find("no node could connect"), std::string::npos);
  EXPECT_FALSE(read_authorized_keys(dir.path() + "/missing"));
}

}  // namespace
}  // namespace gwr::fleet
