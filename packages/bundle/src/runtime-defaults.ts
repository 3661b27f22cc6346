/**
 * The runtime defaults `runc spec` (runc 1.1.5) writes, as data. Rootless
 * follows `runc spec --rootless`, without the cgroup mount.
 */

export interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

const CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export function defaultCapabilities(): Record<
  "bounding" | "effective" | "permitted" | "ambient",
  string[]
> {
  return {
    bounding: [...CAPABILITIES],
    effective: [...CAPABILITIES],
    permitted: [...CAPABILITIES],
    ambient: [...CAPABILITIES],
  };
}

export function defaultMounts(rootless: boolean): Mount[] {
  const mounts: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        ...(rootless ? [] : ["gid=5"]),
      ],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
  ];
  if (rootless) {
    mounts.push({
      destination: "/sys",
      type: "none",
      source: "/sys",
      options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
    });
  } else {
    mounts.push(
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    );
  }
  return mounts;
}

export const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];

export const READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

export function defaultNamespaces(rootless: boolean): Array<{ type: string }> {
  return rootless
    ? [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }]
    : [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Volumes become tmpfs mounts, as umoci makes them, so that data never lands in the rootfs. */
export function volumeMount(destination: string): Mount {
  return {
    destination,
    type: "tmpfs",
    source: "none",
    options: ["rw", "nosuid", "nodev", "noexec", "relatime"],
  };
}
