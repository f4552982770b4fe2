/*
 * Preloaded into the armhf guest of the emulated-ABI job (.ci/emulated-abi.mjs):
 * uname(2) then says "aarch64", as it does to 32-bit Raspberry Pi OS on the
 * 64-bit kernel a Pi 4 or 5 boots by default. qemu-arm would say "armv7l";
 * the agent must lay its structs out for armhf either way.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

int uname(struct utsname *u) {
  long r = syscall(SYS_uname, u);
  if (r == 0) strcpy(u->machine, "aarch64");
  return (int)r;
}
