"""musclekit."""
from musclekit._version import __version__

