# `check-format` fails if any C++ file differs from .clang-format; `format` rewrites them.
find_program(KV_CLANG_FORMAT NAMES clang-format clang-format-14)
if(KV_CLANG_FORMAT)
  file(GLOB_RECURSE KV_FORMAT_SOURCES CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/common/*.h ${PROJECT_SOURCE_DIR}/common/*.cc
    ${PROJECT_SOURCE_DIR}/phase*/*.h ${PROJECT_SOURCE_DIR}/phase*/*.cc
    ${PROJECT_SOURCE_DIR}/tests/*.h ${PROJECT_SOURCE_DIR}/tests/*.cc)
  add_custom_target(check-format
    COMMAND ${KV_CLANG_FORMAT} --dry-run -Werror ${KV_FORMAT_SOURCES}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Checking formatting against .clang-format")
  add_custom_target(format
    COMMAND ${KV_CLANG_FORMAT} -i ${KV_FORMAT_SOURCES}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Formatting sources with .clang-format")
endif()
