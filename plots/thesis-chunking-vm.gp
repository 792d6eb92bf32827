# thesis-chunking-vm.gp - read throughput vs chunk size, chunking on the local side (engine chunk) vs the remote side (server_chunk): the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-chunking.gp'
