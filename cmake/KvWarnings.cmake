# One interface target carries the warning flags; every project target links it.
add_library(kv_warnings INTERFACE)
add_library(kv::warnings ALIAS kv_warnings)
target_compile_options(kv_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(KV_WERROR)
  target_compile_options(kv_warnings INTERFACE -Werror)
endif()
