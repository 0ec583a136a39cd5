# kv_add_test(NAME name SOURCES ... LIBS ... LABELS label...)
#
# Builds one GoogleTest executable, registers its cases with gtest_discover_tests (at test time,
# so a sanitizer build does not run binaries during the build), labels every case, and makes the
# phase's aggregate target `tests_<first label>` depend on it so that
#   cmake --build --preset debug --target tests_common
# builds that phase's tests and only what they depend on.
include(GoogleTest)

function(kv_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} kv::testing GTest::gmock GTest::gtest_main rapidcheck kv::warnings)
  # gtest_discover_tests flattens a list given in PROPERTIES (only the first label would stick),
  # so the labels and the timeout are set by a script of our own that CTest runs after the
  # discovery script has defined the list of tests.
  gtest_discover_tests(${T_NAME}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    TEST_LIST ${T_NAME}_TESTS)
  set(properties_file "${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake")
  file(WRITE "${properties_file}"
    "if(${T_NAME}_TESTS)\n"
    "  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES LABELS \"${T_LABELS}\" TIMEOUT ${T_TIMEOUT})\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${properties_file}")
  foreach(label IN LISTS T_LABELS)
    if(NOT TARGET tests_${label})
      add_custom_target(tests_${label})
    endif()
    add_dependencies(tests_${label} ${T_NAME})
  endforeach()
endfunction()
