from tests import fake_allocate

fake_allocate.install()  # until equipoise.allocate is merged
