"""The dynamics stage's orchestration: its typed config, the jobs found in a dataset, model
preparation and chunks on Dask, the chunk worker (dispatching by method name), writing the
stitched streams, the upper-body pass, status, plots and the EMG comparison. The only part of
dynamics that imports `methods` by name and the dataset layer."""
