# The reference engines kvbench compares the course's engines with, each from its Debian package.
# Included from CMakeLists.txt once kvbench_lib exists. For each engine found: its adapter is
# compiled into kvbench_lib, the library linked, and KV_HAVE_<ENGINE> defined for kvbench_lib and
# everything that links it (engines.cc registers the adapter under that macro). An engine not
# found is left out with a message saying what to install; the configure never fails for it.

# kv_bench_reference(NAME name MACRO macro SOURCE file PACKAGE debian-package
#                    FOUND found-variable [LIBS target...])
function(kv_bench_reference)
  cmake_parse_arguments(R "" "NAME;MACRO;SOURCE;PACKAGE;FOUND" "LIBS" ${ARGN})
  if(${R_FOUND})
    target_sources(kvbench_lib PRIVATE ${R_SOURCE})
    target_link_libraries(kvbench_lib PRIVATE ${R_LIBS})
    target_compile_definitions(kvbench_lib PUBLIC ${R_MACRO})
    message(STATUS "kvbench: ${R_NAME} found")
  else()
    message(STATUS "kvbench: ${R_NAME} not found (install ${R_PACKAGE}); kvbench will skip it")
  endif()
endfunction()

# LevelDB: Debian ships a CMake package (leveldb::leveldb, the shared library).
find_package(leveldb CONFIG QUIET)
kv_bench_reference(NAME leveldb MACRO KV_HAVE_LEVELDB SOURCE leveldb_engine.cc
  PACKAGE libleveldb-dev FOUND leveldb_FOUND LIBS leveldb::leveldb)

# RocksDB: Debian's CMake package defines RocksDB::rocksdb-shared (librocksdb.so, which carries
# its own dependencies) and RocksDB::rocksdb (a 33 MB static archive). The shared one links
# faster and needs nothing else. Its package config looks up gflags, Snappy, zlib, bzip2, lz4
# and zstd (find_dependency), and reports RocksDB not found if one of them is missing. It also
# adds its own Find modules to CMAKE_MODULE_PATH, which block() keeps from leaking out.
block(SCOPE_FOR VARIABLES PROPAGATE RocksDB_FOUND)
  find_package(RocksDB CONFIG QUIET)
  if(RocksDB_FOUND AND NOT TARGET RocksDB::rocksdb-shared)
    set(RocksDB_FOUND FALSE)
  endif()
endblock()
kv_bench_reference(NAME rocksdb MACRO KV_HAVE_ROCKSDB SOURCE rocksdb_engine.cc
  PACKAGE librocksdb-dev FOUND RocksDB_FOUND LIBS RocksDB::rocksdb-shared)

# LMDB: no CMake package; Debian ships lmdb.pc (pkg-config is already required by phase 1).
set(LMDB_FOUND FALSE)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(LMDB QUIET IMPORTED_TARGET lmdb)
endif()
kv_bench_reference(NAME lmdb MACRO KV_HAVE_LMDB SOURCE lmdb_engine.cc
  PACKAGE liblmdb-dev FOUND LMDB_FOUND LIBS PkgConfig::LMDB)

# SQLite: CMake's own FindSQLite3 (SQLite::SQLite3).
find_package(SQLite3 QUIET)
kv_bench_reference(NAME sqlite MACRO KV_HAVE_SQLITE SOURCE sqlite_engine.cc
  PACKAGE libsqlite3-dev FOUND SQLite3_FOUND LIBS SQLite::SQLite3)
