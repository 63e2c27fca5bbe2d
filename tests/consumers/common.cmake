# SPDX-License-Identifier: Apache-2.0
# The two programs every consumer project builds, whatever way it gets tern.
# The C++ program is the FetchContent example's own, so the example is tested
# by every way of getting tern.
add_executable(consumer-cpp ${CMAKE_CURRENT_LIST_DIR}/../../examples/consumer/fetchcontent/app.cpp)
target_link_libraries(consumer-cpp PRIVATE tern::tern)
set_target_properties(consumer-cpp PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
add_executable(consumer-c ${CMAKE_CURRENT_LIST_DIR}/app.c)
target_link_libraries(consumer-c PRIVATE tern::c)
set_target_properties(consumer-c PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
target_compile_options(consumer-c PRIVATE -Wall -Wextra -Werror)
