# thesis-migration-vm.gp - migration downtime vs RTT with the 200 Mbit/s writer: uffd post-copy, delta pre-copy, fuse and nbd two-phase: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-migration.gp'
