# cmake -DNM=<nm> -DARCHIVES="<a>;<b>" [-DMACHO=ON] -P check_core_symbols.cmake
# (GNU nm and llvm-nm, which is macOS's nm since Xcode 11, both take -u -C.)
cmake_minimum_required(VERSION 3.25)
# Fails if a pure core's objects call the operating system directly: files,
# processes, signals, sockets. Their shells do that through injected ports.
set(forbidden
  open openat open64 creat unlink unlinkat rename renameat remove rmdir mkdir truncate ftruncate
  read write pread pwrite fopen fopen64 popen system fork vfork execv execve execvp posix_spawn posix_spawnp
  kill killpg waitpid socket connect bind listen accept send recv sendto recvfrom getaddrinfo
  sqlite3_open_v2 curl_easy_perform zmq_socket)
set(failed "")
foreach(archive ${ARCHIVES})
  execute_process(COMMAND ${NM} -u -C ${archive} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 AND MACHO)
    # An nm without -C (the old cctools one): say so rather than fail.
    message(STATUS "skipped: ${NM} -u -C failed on ${archive}; the cores' symbols are checked on Linux")
    return()
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${archive}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line ${lines})
    string(STRIP "${line}" line)
    string(REGEX REPLACE "^U +" "" sym "${line}")
    string(REGEX REPLACE "@.*$" "" sym "${sym}")
    if(MACHO)
      string(REGEX REPLACE "^_" "" sym "${sym}")
    endif()
    # libstdc++'s std::filesystem::remove is libc++'s std::__1::__fs::filesystem::__remove.
    if(sym IN_LIST forbidden OR
       sym MATCHES "^std::(__1::__fs::)?filesystem::(__)?(remove|remove_all|rename|create_director|copy|resize_file|permissions)")
      list(APPEND failed "${archive}: ${sym}")
    endif()
  endforeach()
endforeach()
if(failed)
  list(JOIN failed "\n  " text)
  message(FATAL_ERROR "pure cores call the operating system:\n  ${text}")
endif()
list(LENGTH ARCHIVES n)
message(STATUS "${n} core archives: no direct file, process, signal or socket calls")
