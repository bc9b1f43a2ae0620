#!/bin/busybox sh
# The whole initramfs: static busybox, a few modules (listed in /modules.order, dependencies first)
# and this script, which mounts the ext4 root and hands over to the lab's own init. Debian's stock
# initrd takes ~23 s under emulation; this takes well under one.
/bin/busybox mkdir -p /proc /sys /dev /newroot /bin /sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/modules/$m" 2>/dev/null; done
# virtio-blk shows up asynchronously after its module loads.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
mount -t ext4 /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; echo o > /proc/sysrq-trigger; }
umount /proc
exec switch_root /newroot /usr/sbin/connexa-init
