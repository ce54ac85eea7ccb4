import EngineApp
import Shared

await ServiceCommand<EngineService>.runMain()
