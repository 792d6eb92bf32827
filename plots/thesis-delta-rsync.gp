# thesis-delta-rsync.gp - time to sync a change set: delta (steady-state cycle, one-shot push) vs rsync, per profile and fraction changed.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] delta vs rsync: time to sync a change set (seconds, log; lower is better)" noenhanced
set ylabel "seconds (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
