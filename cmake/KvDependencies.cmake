# Every dependency comes from a Debian package (scripts/install-deps.sh) through find_package.
# Nothing is downloaded or vendored.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
if(KV_BUILD_TESTS)
  find_package(GTest REQUIRED)        # GTest::gtest, GTest::gmock, GTest::gtest_main
  find_package(rapidcheck REQUIRED)   # rapidcheck; its GoogleTest glue is the header rapidcheck/gtest.h
endif()
if(KV_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
find_package(CLI11 REQUIRED)
find_package(Asio REQUIRED)           # cmake/FindAsio.cmake: standalone, header-only
find_package(cereal REQUIRED)
