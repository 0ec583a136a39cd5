#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "common/testing/status_matchers.h"

namespace kv {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, EveryFactoryCarriesItsCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
    std::string_view name;
  };
  const Case cases[] = {
      {Status::NotFound("m"), StatusCode::kNotFound, "NotFound"},
      {Status::Corruption("m"), StatusCode::kCorruption, "Corruption"},
      {Status::IOError("m"), StatusCode::kIOError, "IOError"},
      {Status::NoSpace("m"), StatusCode::kNoSpace, "NoSpace"},
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument, "InvalidArgument"},
      {Status::Conflict("m"), StatusCode::kConflict, "Conflict"},
      {Status::Busy("m"), StatusCode::kBusy, "Busy"},
      {Status::Timeout("m"), StatusCode::kTimeout, "Timeout"},
      {Status::NotLeader("m"), StatusCode::kNotLeader, "NotLeader"},
      {Status::Aborted("m"), StatusCode::kAborted, "Aborted"},
      {Status::NotSupported("m"), StatusCode::kNotSupported, "NotSupported"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": m");
  }
}

TEST(Status, FromErrno_MapsNoSpaceAndNotFound) {
  EXPECT_EQ(Status::FromErrno(ENOSPC, "f").code(), StatusCode::kNoSpace);
  EXPECT_EQ(Status::FromErrno(ENOENT, "f").code(), StatusCode::kNotFound);
  Status io = Status::FromErrno(EIO, "write /x");
  EXPECT_EQ(io.code(), StatusCode::kIOError);
  EXPECT_NE(io.message().find("write /x"), std::string::npos) << io.message();
}

TEST(Status, WithContext_PrefixesMessageKeepsCode) {
  Status s = Status::Corruption("bad crc").WithContext("wal/000001.log");
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "wal/000001.log: bad crc");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

Result<int> ParsePositive(int x) {
  if (x <= 0) return Status::InvalidArgument("not positive");
  return x;
}

Result<int> DoubleIt(int x) {
  KV_ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return 2 * v;
}

Status CheckBoth(int a, int b) {
  KV_RETURN_IF_ERROR(ParsePositive(a).status());
  KV_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(Result, HoldsValueOrError) {
  Result<int> ok = ParsePositive(3);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 3);
  EXPECT_TRUE(ok.status().ok());

  Result<int> bad = ParsePositive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(Result, PropagationMacrosStopAtFirstError) {
  ASSERT_OK_AND_ASSIGN(int doubled, DoubleIt(21));
  EXPECT_EQ(doubled, 42);
  EXPECT_STATUS(DoubleIt(0), StatusCode::kInvalidArgument);
  EXPECT_OK(CheckBoth(1, 2));
  EXPECT_STATUS(CheckBoth(1, -2), StatusCode::kInvalidArgument);
}

TEST(Result, WorksWithMoveOnlyValues) {
  auto make = []() -> Result<std::unique_ptr<int>> { return std::make_unique<int>(7); };
  ASSERT_OK_AND_ASSIGN(auto p, make());
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace kv
