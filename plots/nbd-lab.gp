# nbd-lab.gp - loaded by the nbd-* figures after style.gp (a helper: no .jq,
# so render.sh draws nothing from it). Sets LAB, the figure's one lab for its
# title, from the first series name, "... [lab]" (nbd-lib.jq's one_lab keeps
# the records of one lab per figure: VM-lab numbers never share an axis with
# native ones).
lab = ""
stats datafile using (lab = columnhead(2), 0) nooutput
lab = lab[strstrt(lab, "[") + 1:strstrt(lab, "]") - 1]
LAB = (lab eq "vm-tcg") ? "VM lab only (QEMU TCG)" : (lab eq "native") ? "native only" : "lab ".lab." only"
