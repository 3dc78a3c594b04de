package main

import "syscall"

// childAttr makes the kernel kill the service if the benchmark dies without
// running its cleanup (SIGKILL, a crash), so that no load-test server is left
// listening.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
