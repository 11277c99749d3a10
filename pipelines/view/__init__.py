"""`musclekit view`: a sequence in the browser (viser) with its model, muscles coloured by
activation, ground-force arrows, markers and curves under a time slider; or a self-contained
HTML file / an MP4 for papers. docs/view.md."""
