#!/bin/sh
# PID 1 of the VM lab guest (no systemd): mount what pppd/pptpd need, load kernel PPP, run the
# compiled suite from the 9p share with the host's node binary, record its exit code on the share,
# power off. Everything the suite learns goes back through /mnt/share/out.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/pptp /run/lock /var/log
modprobe -a 9p 9pnet_virtio
mkdir -p /mnt/share /mnt/nodebin
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt/share
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro nodebin /mnt/nodebin
mkdir -p /mnt/share/out
# pptpd (and pptp) log only to syslog: keep it for the host to read.
busybox syslogd -O /mnt/share/out/syslog.txt
# The stock Debian kernel has PPP as modules; this creates /dev/ppp.
modprobe -a ppp_generic ppp_async ppp_mppe veth
ip link set lo up
echo "guest: init ready $(cut -d' ' -f1 /proc/uptime)" > /mnt/share/out/init.log
cd /mnt/share
/mnt/nodebin/node /mnt/share/suite.cjs /mnt/share/out >> /mnt/share/out/guest.log 2>&1
echo $? > /mnt/share/out/exit-code
echo "guest: suite done $(cut -d' ' -f1 /proc/uptime)" >> /mnt/share/out/init.log
sync
echo o > /proc/sysrq-trigger
sleep 10
