import sys

from ehr_cli.main import main

sys.exit(main())
