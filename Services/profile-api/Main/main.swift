import ProfileAPIApp
import Shared

await ServiceCommand<ProfileAPIService>.runMain()
