package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of CPU times in /proc: USER_HZ, 100 on every Linux
// platform.
const clockTick = 10 * time.Millisecond

// cpuUse is where the machine's CPU time went during a load: the service's
// replicas, the PostgreSQL backends that serve its database, the load
// generator (this process, the baseline server included), and every other
// process, which on a shared machine is noise.
type cpuUse struct {
	service, database, generator, others time.Duration
	// wall is the time between the two samples: the load's window and the
	// wait for the answers still in flight at its end.
	wall time.Duration
}

func (u cpuUse) add(v cpuUse) cpuUse {
	return cpuUse{u.service + v.service, u.database + v.database, u.generator + v.generator, u.others + v.others, u.wall + v.wall}
}

// ours is the CPU time of the service, its database and the load generator
// together.
func (u cpuUse) ours() time.Duration { return u.service + u.database + u.generator }

// othersShare is the share of the machine's CPUs that other processes
// used.
func (u cpuUse) othersShare(cpus int) float64 {
	if u.wall <= 0 || cpus <= 0 {
		return 0
	}
	return u.others.Seconds() / (float64(cpus) * u.wall.Seconds())
}

// cpuSample is the CPU times read at one moment.
type cpuSample struct {
	at        time.Time
	service   time.Duration
	database  map[int]time.Duration // by backend pid
	generator time.Duration
	busy      time.Duration // the whole machine's, from /proc/stat
}

// cpuMeter reads the CPU times of a cluster, and of the PostgreSQL backends
// of its database when pg is set.
type cpuMeter struct {
	cluster  *cluster
	pg       *postgresServer
	database string // the name of the PostgreSQL database
}

// start samples the CPU times now and returns a function that samples
// them again and returns the use in between. If /proc cannot be read (not
// Linux), the use is unknown and the function reports false.
func (m cpuMeter) start(ctx context.Context) (stop func() (cpuUse, bool)) {
	before, err := m.sample(ctx)
	if err != nil {
		return func() (cpuUse, bool) { return cpuUse{}, false }
	}
	return func() (cpuUse, bool) {
		after, err := m.sample(ctx)
		if err != nil {
			return cpuUse{}, false
		}
		var u cpuUse
		u.wall = after.at.Sub(before.at)
		u.service = after.service - before.service
		u.generator = after.generator - before.generator
		for pid, t := range after.database {
			// A backend that started during the load counts from zero; one
			// that ended is lost, which the pool's long-lived connections
			// make rare.
			u.database += t - before.database[pid]
		}
		u.others = max(0, after.busy-before.busy-u.service-u.generator-u.database)
		return u, true
	}
}

// ownCPU measures the CPU time of this process alone, as the generator's:
// for the ceilings, which run in it.
func ownCPU(ctx context.Context) (stop func() (cpuUse, bool)) {
	return cpuMeter{cluster: &cluster{}}.start(ctx)
}

func (m cpuMeter) sample(ctx context.Context) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.busy, err = machineBusy(); err != nil {
		return s, err
	}
	if s.generator, err = processCPU("self"); err != nil {
		return s, err
	}
	for _, r := range m.cluster.replicas {
		t, err := processCPU(strconv.Itoa(r.pid))
		if err != nil {
			return s, err
		}
		s.service += t
	}
	if m.pg == nil {
		return s, nil
	}
	pids, err := m.pg.backends(ctx, m.database)
	if err != nil {
		return s, err
	}
	s.database = map[int]time.Duration{}
	for _, pid := range pids {
		if t, err := processCPU(strconv.Itoa(pid)); err == nil {
			s.database[pid] = t
		}
	}
	return s, nil
}

// processCPU is the user and system CPU time that process pid (or "self")
// has used, from /proc/pid/stat.
func processCPU(pid string) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcessCPU(data)
}

// parseProcessCPU reads utime and stime, the 14th and 15th fields of a
// /proc/pid/stat line. The command name, the 2nd, is in parentheses and may
// hold spaces and parentheses itself, so fields are counted after the last
// closing one.
func parseProcessCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/pid/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is the 3rd field (state): utime and stime are 11 and 12.
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc/pid/stat")
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/pid/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineBusy is the CPU time all CPUs have spent on anything but idling,
// from the first line of /proc/stat.
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineBusy(data)
}

// parseMachineBusy reads "cpu user nice system idle iowait irq softirq
// steal ...": everything but idle and iowait is busy. Guest time is
// already counted in user time.
func parseMachineBusy(stat []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat")
	}
	var busy int64
	for i, f := range fields[1:9] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, nil
}
