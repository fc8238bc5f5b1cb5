#!/usr/bin/env python3
"""Writes the vitals fixtures: proc-server/t0 and t1 (a 2U storage server,
15 s apart) and proc-24disk (a host with 24 data disks, for the benchmark).

The values are made to look like a real server's (32 threads, 256 GiB,
two NVMe boot drives in an md mirror, eight HDDs under LVM for Ceph, two
25 GbE ports in a bond), with the deltas between t0 and t1 chosen so that
the rates the test expects can be checked by hand. Run from agent/testdata:
python3 proc-server/make-fixtures.py
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
NCPU = 32


def write(root, rel, text):
    path = os.path.join(TESTDATA, root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# /proc/stat: aggregate fields user nice system idle iowait irq softirq
# steal guest guest_nice, in USER_HZ (100/s).
STAT0 = [1843215560, 2913375, 498213044, 8713449871, 63120451, 0, 9912032, 0, 0, 0]
# 15 s on 32 threads is 48000 ticks.
STAT_DELTA = [10211, 12, 4093, 29871, 2207, 0, 1606, 0, 0, 0]


def stat(fields, seq):
    out = ["cpu  " + " ".join(str(v) for v in fields)]
    # Per-CPU lines: an even share each, the remainder on cpu0, so the
    # lines sum to the aggregate as the kernel's do.
    for c in range(NCPU):
        share = [v // NCPU + (v % NCPU if c == 0 else 0) for v in fields]
        out.append(f"cpu{c} " + " ".join(str(v) for v in share))
    intr = [91422817231 + seq * 1893211, 0, 9, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 152, 0, 0, 0]
    out.append("intr " + " ".join(str(v) for v in intr))
    out.append(f"ctxt {162938812231 + seq * 4321990}")
    out.append("btime 1733140112")
    out.append(f"processes {2210433 + seq * 84}")
    out.append(f"procs_running {6 - seq * 3}")
    out.append(f"procs_blocked {1 - seq}")
    out.append(f"softirq {41227318890 + seq * 912384} 5 1822981231 2210 9120391201 211930 0 88123 21044122190 2107 9237211903")
    return "\n".join(out) + "\n"


LOADAVG = ["4.11 3.87 3.62 6/1874 2210433\n", "3.95 3.85 3.62 3/1869 2210517\n"]

MEMINFO = """MemTotal:       263842172 kB
MemFree:         {free} kB
MemAvailable:   {avail} kB
Buffers:          1204408 kB
Cached:         112932844 kB
SwapCached:             0 kB
Active:          98123344 kB
Inactive:        54987212 kB
Active(anon):    38991264 kB
Inactive(anon):    124808 kB
Active(file):    59132080 kB
Inactive(file):  54862404 kB
Unevictable:        38212 kB
Mlocked:            38212 kB
SwapTotal:              0 kB
SwapFree:               0 kB
Zswap:                  0 kB
Zswapped:               0 kB
Dirty:              {dirty} kB
Writeback:              0 kB
AnonPages:       39011920 kB
Mapped:            812344 kB
Shmem:             131204 kB
KReclaimable:     6120988 kB
Slab:             9212340 kB
SReclaimable:     6120988 kB
SUnreclaim:       3091352 kB
KernelStack:        41232 kB
PageTables:        120932 kB
SecPageTables:          0 kB
NFS_Unstable:           0 kB
Bounce:                 0 kB
WritebackTmp:           0 kB
CommitLimit:    131921084 kB
Committed_AS:    61231204 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       312944 kB
VmallocChunk:           0 kB
Percpu:            113664 kB
AnonHugePages:   12288000 kB
ShmemHugePages:         0 kB
ShmemPmdMapped:         0 kB
FileHugePages:          0 kB
FilePmdMapped:          0 kB
HugePages_Total:        0
HugePages_Free:         0
HugePages_Rsvd:         0
HugePages_Surp:         0
Hugepagesize:        2048 kB
Hugetlb:                0 kB
DirectMap4k:      1204224 kB
DirectMap2M:     62609408 kB
DirectMap1G:    205520896 kB
"""
MEM = [dict(free=39221044, avail=201234816, dirty=18432), dict(free=39173672, avail=201187444, dirty=21960)]

# /proc/net/dev: name, rx bytes packets errs drop fifo frame compressed
# multicast, tx bytes packets errs drop fifo colls carrier compressed.
NETDEV = [
    {
        "lo": [912302112983, 412998312, 0, 0, 0, 0, 0, 0, 912302112983, 412998312, 0, 0, 0, 0, 0, 0],
        "eno1": [88123091223, 312009123, 0, 1203, 0, 0, 0, 8812301, 21093812009, 98123012, 0, 0, 0, 0, 0, 0],
        "eno2": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "ens1f0np0": [412093812309823, 298123091234, 0, 48213, 0, 0, 0, 91234123, 398123098123023, 281230912301, 0, 0, 0, 0, 0, 0],
        "ens1f1np1": [409812309182312, 296120398123, 17, 51022, 0, 17, 0, 91230912, 401209381230912, 283012398123, 0, 3, 0, 0, 0, 0],
        "bond0": [821906121492135, 594243489357, 17, 99235, 0, 17, 0, 182465035, 799332479353935, 564243310424, 0, 3, 0, 0, 0, 0],
    },
    {
        "lo": [912302349001, 412998601, 0, 0, 0, 0, 0, 0, 912302349001, 412998601, 0, 0, 0, 0, 0, 0],
        "eno1": [88123412009, 312010001, 0, 1203, 0, 0, 0, 8812344, 21093901234, 98123521, 0, 0, 0, 0, 0, 0],
        "eno2": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "ens1f0np0": [412096912309211, 298125391234, 0, 48220, 0, 0, 0, 91234200, 398126198123112, 281233212301, 0, 0, 0, 0, 0, 0],
        "ens1f1np1": [409815409182011, 296122698123, 19, 51030, 0, 19, 0, 91230990, 401212481230331, 283014698123, 0, 3, 0, 0, 0, 0],
        "bond0": [821912321491222, 594248089357, 19, 99250, 0, 19, 0, 182465190, 799338679353443, 564247910424, 0, 3, 0, 0, 0, 0],
    },
]


def netdev(ifaces):
    out = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    ]
    for name, v in ifaces.items():
        out.append(f"{name:>6}: " + " ".join(f"{x:>8}" for x in v[:8]) + " " + " ".join(f"{x:>8}" for x in v[8:]))
    return "\n".join(out) + "\n"


# /proc/diskstats: major minor name, then reads merged sectors rticks
# writes merged sectors wticks inflight io_ticks weighted discards
# dmerged dsectors dticks flushes fticks (20 fields, kernel 5.5+).
def D(*v):
    return list(v)


DISKS0 = [
    ("7", "0", "loop0", D(512, 0, 9920, 101, 0, 0, 0, 0, 0, 88, 101, 0, 0, 0, 0, 0, 0)),
    ("7", "1", "loop1", D(61, 0, 2244, 12, 0, 0, 0, 0, 0, 20, 12, 0, 0, 0, 0, 0, 0)),
    ("259", "0", "nvme0n1", D(912340012, 1209, 84123098123, 91234012, 610923011, 98123, 61230912312, 121240912, 0, 212309812, 214201231, 120312, 0, 912309123, 8123, 12309812, 1203981)),
    ("259", "1", "nvme0n1p1", D(1203, 0, 51234, 120, 12, 0, 24, 3, 0, 312, 123, 0, 0, 0, 0, 0, 0)),
    ("259", "2", "nvme0n1p2", D(912338809, 1209, 84123046889, 91233892, 610922999, 98123, 61230912288, 121240909, 0, 212309500, 212997123, 120312, 0, 912309123, 8123, 0, 0)),
    ("259", "3", "nvme1n1", D(909123098, 1123, 83912309812, 90912309, 612309123, 97123, 61339123123, 122461831, 0, 213098123, 214581321, 119312, 0, 910309123, 8011, 12309812, 1198123)),
    ("259", "4", "nvme1n1p1", D(1109, 0, 48123, 111, 0, 0, 0, 0, 0, 298, 111, 0, 0, 0, 0, 0, 0)),
    ("259", "5", "nvme1n1p2", D(909121989, 1123, 83912261689, 90912198, 612309123, 97123, 61339123123, 122461831, 0, 213097825, 213381930, 119312, 0, 910309123, 8011, 0, 0)),
    ("8", "0", "sda", D(18832910, 201334, 2941872312, 213441021, 40923122, 8731229, 3988122344, 1021933212, 1, 401223102, 1235733012, 0, 0, 0, 0, 1229311, 442019)),
    ("8", "16", "sdb", D(18712309, 199812, 2931230981, 211230981, 40812309, 8712301, 3981230912, 1019812309, 0, 399812309, 1231231234, 0, 0, 0, 0, 1228123, 441203)),
    ("8", "32", "sdc", D(18912031, 203123, 2951230912, 214123098, 41023091, 8801230, 3999123091, 1023109823, 2, 402309123, 1237812309, 0, 0, 0, 0, 1230912, 443012)),
    ("8", "48", "sdd", D(18612309, 198123, 2921230981, 210981230, 40712309, 8691230, 3971230981, 1017123098, 0, 398123091, 1228123091, 0, 0, 0, 0, 1227012, 440912)),
    ("8", "64", "sde", D(18812309, 200912, 2941230912, 212981230, 40912309, 8721230, 3987123091, 1021123098, 0, 400912309, 1234123091, 0, 0, 0, 0, 1229012, 441912)),
    ("8", "80", "sdf", D(18732091, 200123, 2935123091, 212012309, 40832091, 8712091, 3983120931, 1020123091, 0, 400123091, 1232123091, 0, 0, 0, 0, 1228612, 441612)),
    ("8", "96", "sdg", D(21923091, 230912, 3412309123, 298123091, 40123091, 8612309, 3912309123, 1012309123, 12, 431230912, 1310432214, 0, 0, 0, 0, 1220912, 439012)),
    ("8", "112", "sdh", D(1203, 0, 38123, 4012, 0, 0, 0, 0, 0, 3812, 4012, 0, 0, 0, 0, 0, 0)),
    ("9", "127", "md127", D(1812309123, 0, 168012309123, 0, 1198123091, 0, 122451230912, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
] + [
    ("253", str(i), f"dm-{i}", D(18812309 + i * 1000, 0, 2941230912, 213012309, 40912309, 0, 3987123091, 1021123098, 0, 400912309, 1234123091, 0, 0, 0, 0, 0, 0))
    for i in range(8)
]

# Deltas over the 15 s (15000 ms) between t0 and t1.
DELTA = {
    "nvme0n1": D(45000, 12, 3600000, 4500, 30000, 8, 2400000, 6000, 0, 5250, 10710, 0, 0, 0, 0, 120, 210),
    "nvme0n1p2": D(45000, 12, 3600000, 4500, 30000, 8, 2400000, 6000, 0, 5250, 10500, 0, 0, 0, 0, 0, 0),
    "nvme1n1": D(44850, 10, 3588000, 4485, 30150, 9, 2412000, 6030, 0, 5310, 10800, 0, 0, 0, 0, 118, 285),
    "nvme1n1p2": D(44850, 10, 3588000, 4485, 30150, 9, 2412000, 6030, 0, 5310, 10515, 0, 0, 0, 0, 0, 0),
    "sda": D(1500, 12, 384000, 13500, 3000, 230, 768000, 27000, 0, 10500, 40800, 0, 0, 0, 0, 30, 300),
    "sdb": D(1203, 9, 307968, 14436, 2851, 211, 729856, 19957, 0, 9873, 35102, 0, 0, 0, 0, 29, 709),
    "sdc": D(1650, 14, 422400, 16500, 3150, 240, 806400, 31500, 0, 11400, 48320, 0, 0, 0, 0, 31, 320),
    "sdd": D(900, 7, 230400, 7200, 2100, 160, 537600, 16800, 0, 6750, 24000, 0, 0, 0, 0, 25, 0),
    "sde": D(1350, 11, 345600, 12150, 2700, 205, 691200, 24300, 0, 9450, 36450, 0, 0, 0, 0, 28, 0),
    "sdf": D(1425, 10, 364800, 12825, 2925, 215, 748800, 26325, 0, 10200, 39150, 0, 0, 0, 0, 30, 0),
    # Rebuilding: busy all the time; io_ticks runs 12 ms past the interval,
    # as the kernel's accounting can.
    "sdg": D(4410, 40, 9031680, 151200, 90, 5, 23040, 3150, 0, 15012, 154533, 0, 0, 0, 0, 2, 183),
    "sdh": D(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    # md accounts I/Os, not time.
    "md127": D(600, 0, 48000, 0, 5100, 0, 408000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "dm-0": D(1500, 0, 384000, 13500, 3000, 0, 768000, 27000, 0, 10500, 40500, 0, 0, 0, 0, 0, 0),
}
# A disk inserted between t0 and t1.
NEW_AT_T1 = ("8", "128", "sdi", D(312, 0, 9984, 1203, 0, 0, 0, 0, 0, 1190, 1203, 0, 0, 0, 0, 0, 0))

ROTATIONAL = {"loop0": 0, "loop1": 0, "nvme0n1": 0, "nvme1n1": 0, "md127": 0, "sdi": 1}


def rotational(name):
    if name in ROTATIONAL:
        return ROTATIONAL[name]
    return 1  # sd*, dm-* on them


def diskstats(disks):
    return "".join(f"{maj:>4} {mnr:>7} {name} " + " ".join(str(x) for x in v) + "\n" for maj, mnr, name, v in disks)


def whole(name):
    """A whole disk (/sys/block has it), not a partition."""
    return not re.fullmatch(r"sd[a-z]+[0-9]+|nvme[0-9]+n[0-9]+p[0-9]+", name)


def write_root(root, stat_fields, seq, disks, mem, net):
    write(root, "proc/stat", stat(stat_fields, seq))
    write(root, "proc/loadavg", LOADAVG[seq])
    write(root, "proc/meminfo", MEMINFO.format(**mem))
    write(root, "proc/net/dev", netdev(net))
    write(root, "proc/diskstats", diskstats(disks))
    for _, _, name, _ in disks:
        if whole(name):
            write(root, f"sys/block/{name}/queue/rotational", f"{rotational(name)}\n")


def main():
    write_root("proc-server/t0", STAT0, 0, DISKS0, MEM[0], NETDEV[0])
    stat1 = [a + b for a, b in zip(STAT0, STAT_DELTA)]
    disks1 = []
    for maj, mnr, name, v in DISKS0:
        d = DELTA.get(name, [0] * len(v))
        disks1.append((maj, mnr, name, [a + b for a, b in zip(v, d)]))
    disks1.insert(16, NEW_AT_T1)
    write_root("proc-server/t1", stat1, 1, disks1, MEM[1], NETDEV[1])

    # 24 data disks sda..sdx with a partition each, two NVMe boot drives.
    disks = [d for d in DISKS0 if d[2].startswith(("loop", "nvme", "md"))]
    for i in range(24):
        name = "sd" + chr(ord("a") + i)
        base = DISKS0[8 + i % 8][3]
        disks.append(("8" if i < 16 else "65", str((i % 16) * 16), name, base))
        disks.append(("8" if i < 16 else "65", str((i % 16) * 16 + 1), name + "1", base))
    write_root("proc-24disk", STAT0, 0, disks, MEM[0], NETDEV[0])


if __name__ == "__main__":
    main()
