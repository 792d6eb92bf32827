# style.gp - the one style every memsync figure loads first.
# The driver (plots/render.sh) defines `datafile` (the rows printed by the
# figure's .jq program) and `outbase` (output path without suffix). A figure
# script sets its titles, puts its plot command into the string PLOT, then
# expands @RENDER, which writes outbase.png and outbase.svg.
#
# Statistics (plots/README.md): every point is the median of its runs with
# error bars from min to max. The data are plots/stats.jq's stats_table:
# column 1 the case (a label, or x), then four columns per series: median,
# min, max, n. render.sh sets `ncols`; med(i), lo(i), hi(i) are the columns
# of series i (1-based). A figure uses one of:
#   @BARS; PLOT = PLOT_BARS      clustered bars per case, error bars min-max
#   PLOT = PLOT_LINES            x numeric, yerrorlines per series
# or its own plot command with the same columns, as STATS_KEY."; plot ..."
# (the key's title: "median; bars: min-max of n runs").
set encoding utf8
set datafile separator "\t"
set datafile missing "NaN"
set key outside right top noenhanced
set grid ytics lc rgb "#dddddd" lw 1 lt 1
set border 3 lc rgb "#444444"
set tics nomirror
set offsets graph 0.03, graph 0.03, 0, 0  # points at the ends of x stay clear of the axes
set style data linespoints
set style fill solid 0.85 border -1
set linetype 1 lc rgb "#1b9e77" lw 2 pt 7 ps 0.8
set linetype 2 lc rgb "#d95f02" lw 2 pt 5 ps 0.8
set linetype 3 lc rgb "#7570b3" lw 2 pt 9 ps 0.8
set linetype 4 lc rgb "#e7298a" lw 2 pt 11 ps 0.8
set linetype 5 lc rgb "#66a61e" lw 2 pt 13 ps 0.8
set linetype 6 lc rgb "#e6ab02" lw 2 pt 3 ps 0.8
set linetype 7 lc rgb "#a6761d" lw 2 pt 1 ps 0.8
set linetype 8 lc rgb "#666666" lw 2 pt 2 ps 0.8
set linetype cycle 8
if (!exists("ncols")) ncols = 5
nseries = (ncols - 1) / 4
med(i) = 4 * i - 2
lo(i) = 4 * i - 1
hi(i) = 4 * i
set bars 1.0 front
# The key says what a point and its bars are (only for figures drawn this way).
STATS_KEY = "set key title 'median; bars: min-max of n runs' noenhanced"
BARS = "set style data histograms; set style histogram errorbars gap 1 lw 1; set xtics rotate by -60 left"
PLOT_BARS = STATS_KEY."; plot for [i=1:nseries] datafile using med(i):lo(i):hi(i):xtic(1) title columnhead(med(i))"
PLOT_LINES = STATS_KEY."; plot for [i=1:nseries] datafile using 1:med(i):lo(i):hi(i) with yerrorlines title columnhead(med(i))"
RENDER = "set terminal pngcairo size 1000,560 font 'DejaVu Sans,10'; set output outbase.'.png'; @PLOT; set terminal svg size 1000,560 dynamic font 'DejaVu Sans,10'; set output outbase.'.svg'; @PLOT; set output"
